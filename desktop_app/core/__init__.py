"""Qt-free runtime of twinlock: camera, preprocessing, embedding, store, verifier, metrics."""
