"""Accuracy predictors: the official MLP and its arch encoding, a MACs proxy for spaces without a
predictor, the resumable (arch, top-1) dataset builder and the trainer."""
from .dataset import AccuracyDataset, build_dataset, fashion_mnist_evaluator, planned_archs
from .encoder import ArchEncoder
from .load import PROXY_FOR, load_accuracy_predictor, load_checkpoint
from .predictor import AccuracyPredictor, build_mlp
from .proxy import MacsProxy
from .train import FitConfig, regression_metrics, spearman, train_predictor

__all__ = ["AccuracyDataset", "build_dataset", "fashion_mnist_evaluator", "planned_archs", "ArchEncoder",
           "PROXY_FOR", "load_accuracy_predictor", "load_checkpoint", "AccuracyPredictor", "build_mlp", "MacsProxy",
           "FitConfig", "regression_metrics", "spearman", "train_predictor"]
