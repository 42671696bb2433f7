"""Training: progressive shrinking with distillation (trainer), its schedule (phases), data
(Fashion-MNIST, image folders), DDP plumbing and subnet evaluation."""
from .data import ImageSet, load_fashion_mnist, load_image_folder, split_train_val
from .evaluate import evaluate_arch, top1
from .phases import Phase, Schedule, progressive_shrinking, scratch
from .trainer import TrainConfig, Trainer

__all__ = ["ImageSet", "load_fashion_mnist", "load_image_folder", "split_train_val", "evaluate_arch", "top1",
           "Phase", "Schedule", "progressive_shrinking", "scratch", "TrainConfig", "Trainer"]
