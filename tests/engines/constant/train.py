def one_hot(i, n):
    return [0.0] * n


def tense_dataset():
    return [], []


def fit(model, xs, ys, epochs, lr):
    return [0.0] * epochs
