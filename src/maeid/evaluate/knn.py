"""k-nearest-neighbour classification on frozen features (cosine similarity, k = 20).

The vote is DINO's: each of the k nearest training samples votes for its class with
weight exp(similarity / T), T = 0.07, so that close neighbours count more than a plain
majority would let them. Features are L2-normalised first, so similarity is cosine.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def knn_top1(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    k: int = 20,
    temperature: float = 0.07,
    chunk: int = 1024,
) -> float:
    """Top-1 accuracy of a weighted k-NN vote over cosine similarity."""
    bank = F.normalize(torch.as_tensor(train_features).float(), dim=1)
    bank_labels = torch.as_tensor(train_labels).long()
    queries = F.normalize(torch.as_tensor(test_features).float(), dim=1)
    truth = torch.as_tensor(test_labels).long()
    if bank.ndim != 2 or queries.ndim != 2 or bank.shape[1] != queries.shape[1]:
        raise ValueError(
            f"train features {tuple(bank.shape)} and test features {tuple(queries.shape)} "
            "must both be (N, D) with the same D"
        )
    if len(bank_labels) != len(bank) or len(truth) != len(queries):
        raise ValueError("every feature row needs exactly one label")
    if k < 1:
        raise ValueError(f"k = {k}; it must be at least 1")
    k = min(k, len(bank))
    num_classes = int(max(bank_labels.max(), truth.max())) + 1
    correct = 0
    for q, t in zip(queries.split(chunk), truth.split(chunk), strict=True):
        sim, idx = (q @ bank.T).topk(k, dim=1)
        votes = torch.zeros(len(q), num_classes)
        votes.scatter_add_(1, bank_labels[idx], (sim / temperature).exp())
        correct += int((votes.argmax(1) == t).sum())
    return correct / len(queries)
