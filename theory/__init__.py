"""Large-N theory of permutation-symmetric ReLU autoencoders (the Persian-rug analysis)."""
