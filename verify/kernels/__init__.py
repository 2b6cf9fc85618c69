"""numba kernels, one module per hot loop; each has a plain numpy reference beside it."""
