"""Training: progressive shrinking with distillation (trainer), its schedule (phases), the
per-step recipe (official or sandwich + in-place distillation), data (Fashion-MNIST, image
folders), DDP plumbing, subnet evaluation and the per-phase table."""
from .data import ImageSet, load_fashion_mnist, load_image_folder, split_train_val
from .evaluate import evaluate_arch, top1
from .phase_eval import PhaseEvaluator
from .phases import Phase, Schedule, progressive_shrinking, scratch
from .recipe import RECIPES, Recipe, get_recipe
from .trainer import TrainConfig, Trainer

__all__ = ["ImageSet", "load_fashion_mnist", "load_image_folder", "split_train_val", "evaluate_arch", "top1",
           "Phase", "Schedule", "progressive_shrinking", "scratch", "TrainConfig", "Trainer",
           "PhaseEvaluator", "RECIPES", "Recipe", "get_recipe"]
