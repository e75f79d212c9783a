"""Golden case from the lecture (seed-examples.md, section 4): parameter sharing.

A 1-D network on 5 inputs with two convolution layers of one filter of width 3 ('same') has
6 weights and 2 biases; two fully connected layers of 5 neurons each have (25+5)+(25+5) = 60.
"""
import numpy as np

from cnnkit import Sequential
from cnnkit.layers import Conv1D, Dense, Input


def test_two_conv_layers_share_their_weights_across_positions():
    model = Sequential([Input(shape=(5, 1)), Conv1D(1, 3, padding="same"), Conv1D(1, 3, padding="same")])
    kernels = [layer.get_weights()[0] for layer in model.layers]
    biases = [layer.get_weights()[1] for layer in model.layers]
    assert sum(kernel.size for kernel in kernels) == 6
    assert sum(bias.size for bias in biases) == 2
    assert model.count_params() == 8
    assert model.predict(np.zeros((1, 5, 1), np.float32), verbose=0).shape == (1, 5, 1)


def test_two_dense_layers_of_five_have_sixty_parameters():
    model = Sequential([Input(shape=(5,)), Dense(5), Dense(5)])
    assert [layer.count_params() for layer in model.layers] == [30, 30]
    assert model.count_params() == 60
