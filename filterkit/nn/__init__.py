"""A small CNN in numpy whose fixed first layer is filterkit's filter bank.

The lecture builds CNNs from the same linear filters as classic image
processing: a bank of k masks gives k feature maps, convolution and
activation repeat, stride, padding and pooling shape the layers, and fully
connected layers end it.  :class:`FilterBank` runs filterkit's own masks
(mean, Gaussian, Sobel x/y, Laplace) through :func:`filterkit.convolve`;
everything else is numpy (im2col and one BLAS product per convolution).

Examples
--------
>>> import numpy as np
>>> import filterkit.nn as nn
>>> model = nn.Sequential(nn.FilterBank(), nn.Conv2D(5, 8, 3, padding=1), nn.ReLU(),
...                       nn.MaxPool2D(2), nn.Flatten(), nn.Dense(8 * 4 * 4, 10))
>>> model.forward(np.zeros((2, 1, 8, 8), np.float32)).shape
(2, 10)
"""

from .layers import (AvgPool2D, BatchNorm2D, Conv2D, Dense, FilterBank, Flatten, Layer, MaxPool2D,
                     ReLU, Residual, Sequential, SoftmaxCrossEntropy, output_size)
from .optim import SGD, Adam
from ._modelfile import (MAX_ACTIVATION, MAX_DEPTH, MAX_JSON_CHARS, MAX_LAYERS, MAX_PARAMS,
                         MAX_SIZE)
from .train import (DATASETS, FIRST_LAYERS, Dataset, History, accuracy, build_model,
                    evaluate_dataset, feature_maps, first_layer_masks, fit, load_dataset,
                    load_model, predict, save_model, split, train_dataset)

__all__ = [
    "AvgPool2D", "BatchNorm2D", "Conv2D", "Dense", "FilterBank", "Flatten", "Layer", "MaxPool2D",
    "ReLU", "Residual", "Sequential", "SoftmaxCrossEntropy", "output_size", "SGD", "Adam",
    "DATASETS", "FIRST_LAYERS", "Dataset", "History", "accuracy", "build_model",
    "evaluate_dataset", "feature_maps", "first_layer_masks", "fit", "load_dataset", "load_model",
    "predict", "save_model", "split", "train_dataset",
    "MAX_ACTIVATION", "MAX_DEPTH", "MAX_JSON_CHARS", "MAX_LAYERS", "MAX_PARAMS", "MAX_SIZE",
]
