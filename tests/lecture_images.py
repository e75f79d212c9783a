"""The lecture's example images (seed-examples.md), typed in once for every golden test.

These arrays are data copied from the lecture, never computed by cnnkit.
"""
import numpy as np

# Image A (section 1 and 2): 7x7, one channel.
IMAGE_A = np.array(
    [
        [1, 6, 2, 8, 1, 2, 7],
        [1, 6, 2, 8, 1, 2, 5],
        [0, 5, 8, 1, 5, 7, 1],
        [1, 7, 1, 3, 5, 8, 0],
        [5, 2, 4, 4, 5, 8, 4],
        [8, 2, 3, 7, 3, 8, 2],
        [1, 2, 3, 6, 5, 9, 6],
    ],
    dtype=np.float32,
)
