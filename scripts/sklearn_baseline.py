#!/usr/bin/env python3
"""The plain scikit-learn related-articles script readnext is compared with.

Reads every Markdown file under a folder (front matter dropped), fits
TfidfVectorizer(sublinear_tf=True, stop_words="english"), then answers
related queries (top 10 by cosine, one query at a time) for query documents
drawn with a fixed seed. Prints throughput, latency and peak memory in the
same columns as `readnext bench`.
"""
import os
import random
import resource
import sys
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import linear_kernel


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end >= 0:
            text = text[end + 4:]
    return text


def main():
    root = sys.argv[1]
    queries = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    paths = sorted(
        os.path.join(d, f) for d, _, files in os.walk(root) for f in files if f.endswith(".md")
    )
    start = time.perf_counter()
    texts = [read(p) for p in paths]
    matrix = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(texts)
    ingest = time.perf_counter() - start
    rng = random.Random(20221108)
    times = []
    for q in rng.sample(range(len(texts)), min(queries, len(texts))):
        t = time.perf_counter()
        scores = linear_kernel(matrix[q], matrix).ravel()
        scores[q] = -1.0
        top = np.argpartition(-scores, 10)[:10]
        top[np.argsort(-scores[top])]
        times.append((time.perf_counter() - t) * 1000.0)
    times.sort()
    at = lambda p: times[round((len(times) - 1) * p)]
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(
        f"{'scikit-learn TF-IDF script (k=10)':<44} {len(texts) / ingest:>12.0f} {at(0.5):>10.2f} "
        f"{at(0.99):>10.2f} {sum(times) / len(times):>10.2f} {peak_mib:>12.1f}"
    )


if __name__ == "__main__":
    main()
