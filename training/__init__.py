"""Train, evaluate and export digitbot's CNN on MNIST plus user-contributed samples."""
