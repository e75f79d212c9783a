"""Elementwise activation numerics that are not one-liners: stable sigmoid and softplus, the
normal CDF (for exact GELU) and the tanh form of GELU, each with the derivative its backward needs.

Pure array code: arrays in, arrays out, no Tensors and no argument checks. Every function keeps
its input's dtype (constants are Python floats, which NumPy 2 does not let promote float32) and
takes its array module from its input, so the same code runs on CuPy arrays.
"""
from __future__ import annotations

import math

from ..backend import get_array_module

__all__ = [
    "sigmoid",
    "softplus",
    "normal_cdf",
    "normal_pdf",
    "gelu_tanh",
    "gelu_tanh_derivative",
]

SQRT_HALF = math.sqrt(0.5)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
GELU_TANH_CUBIC = 0.044715


def sigmoid(x):
    """``1 / (1 + exp(-x))`` without overflow for large ``|x|``.

    ``exp`` only ever sees ``-|x| <= 0``: for ``x >= 0`` the result is ``1 / (1 + e)``, for
    ``x < 0`` it is ``e / (1 + e)``, with ``e = exp(-|x|)``.

    Example:
        >>> import numpy as np
        >>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
        array([0. , 0.5, 1. ])
    """
    xp = get_array_module(x)
    exp_neg_abs = xp.exp(-xp.abs(x))
    denominator = 1.0 + exp_neg_abs
    return xp.where(x >= 0, 1.0 / denominator, exp_neg_abs / denominator)


def softplus(x):
    """``log(1 + exp(x))`` as ``max(x, 0) + log1p(exp(-|x|))``: exact and finite for any ``x``.

    Example:
        >>> import numpy as np
        >>> softplus(np.array([-1000.0, 0.0, 1000.0]))
        array([0.00000000e+00, 6.93147181e-01, 1.00000000e+03])
    """
    xp = get_array_module(x)
    return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))


# Rational approximations of erf and erfc (W. J. Cody's form, as in the Cephes library): relative
# error below 1e-15 in float64. Coefficients run from the highest power down; the denominators'
# leading coefficient is 1 and is left out.
_ERF_NUMERATOR = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
                  7.00332514112805075473e3, 5.55923013010394962768e4)
_ERF_DENOMINATOR = (3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
                    2.26290000613890934246e4, 4.92673942608635921086e4)
_ERFC_MIDDLE_NUMERATOR = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
                          4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
                          9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)
_ERFC_MIDDLE_DENOMINATOR = (1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
                            9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
                            1.65666309194161350182e3, 5.57535340817727675546e2)
_ERFC_TAIL_NUMERATOR = (5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0,
                        6.16021097993053585195e0, 7.40974269950448939160e0, 2.97886665372100240670e0)
_ERFC_TAIL_DENOMINATOR = (2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1,
                          1.70814450747565897222e1, 9.60896809063285878198e0, 3.36907645100081516050e0)


def _polynomial(x, coefficients, monic: bool = False):
    """Horner evaluation; ``monic`` adds a leading coefficient 1 in front of ``coefficients``."""
    if monic:
        result, rest = x + coefficients[0], coefficients[1:]
    else:
        result, rest = coefficients[0] * x + coefficients[1], coefficients[2:]
    for coefficient in rest:
        result = result * x + coefficient
    return result


def normal_cdf(x):
    """The standard normal CDF ``Phi(x) = (1 + erf(x / sqrt(2))) / 2``, accurate in both tails.

    NumPy has no ``erf``; this evaluates Cody's rational approximations (the ones Cephes and SciPy
    use): ``erf`` directly where ``|x / sqrt(2)| < 1``, otherwise ``erfc`` of ``|x| / sqrt(2)``, so that
    ``Phi`` of a very negative ``x`` keeps its relative precision instead of cancelling to 0.

    Example:
        >>> import numpy as np
        >>> normal_cdf(np.array([-1.0, 0.0, 1.0])).round(6)
        array([0.158655, 0.5     , 0.841345])
    """
    xp = get_array_module(x)
    z = xp.abs(x) * SQRT_HALF
    # erf(z) for z < 1 (the argument is clamped so that unused lanes stay finite).
    z_small = xp.minimum(z, 1.0)
    z_small_squared = z_small * z_small
    erf_small = z_small * _polynomial(z_small_squared, _ERF_NUMERATOR) / _polynomial(
        z_small_squared, _ERF_DENOMINATOR, monic=True
    )
    # erfc(z) for 1 <= z < 8 and z >= 8.
    z_large = xp.maximum(z, 1.0)
    gaussian = xp.exp(-z_large * z_large)
    erfc_middle = gaussian * _polynomial(z_large, _ERFC_MIDDLE_NUMERATOR) / _polynomial(
        z_large, _ERFC_MIDDLE_DENOMINATOR, monic=True
    )
    erfc_tail = gaussian * _polynomial(z_large, _ERFC_TAIL_NUMERATOR) / _polynomial(
        z_large, _ERFC_TAIL_DENOMINATOR, monic=True
    )
    erfc_large = xp.where(z_large < 8.0, erfc_middle, erfc_tail)
    # Phi(x) = (1 + sign(x) erf(z)) / 2, which is 1 - erfc(z) / 2 for x >= 0 and erfc(z) / 2 below.
    positive = x >= 0
    from_erf = xp.where(positive, 0.5 + 0.5 * erf_small, 0.5 - 0.5 * erf_small)
    from_erfc = xp.where(positive, 1.0 - 0.5 * erfc_large, 0.5 * erfc_large)
    return xp.where(z < 1.0, from_erf, from_erfc)


def normal_pdf(x):
    """The standard normal density ``exp(-x^2 / 2) / sqrt(2 pi)``."""
    xp = get_array_module(x)
    return INV_SQRT_2PI * xp.exp(-0.5 * x * x)


def gelu_tanh(x):
    """GELU's tanh form: ``x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))``.

    Returns ``(output, tanh_value)``; the backward needs the tanh value.
    """
    xp = get_array_module(x)
    tanh_value = xp.tanh(SQRT_2_OVER_PI * (x + GELU_TANH_CUBIC * x * x * x))
    return 0.5 * x * (1.0 + tanh_value), tanh_value


def gelu_tanh_derivative(x, tanh_value):
    """d/dx of ``gelu_tanh``, from the saved tanh value."""
    inner_derivative = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_TANH_CUBIC * x * x)
    return 0.5 * (1.0 + tanh_value) + 0.5 * x * (1.0 - tanh_value * tanh_value) * inner_derivative
