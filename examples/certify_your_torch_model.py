"""Certify your own PyTorch model: train, save, certify, audit.

Run it from the repository root with ``python examples/certify_your_torch_model.py [OUT_DIR]``
(the default OUT_DIR is a temporary folder).  It trains a small tanh MLP on two noisy
concentric rings, saves it the usual ways, certifies the module and each file, and audits two
claims about its Lipschitz constant.  It takes about half a minute on two CPU cores.
"""

from __future__ import annotations

import copy
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from certify import certify
from certify.audit import audit_lipschitz
from models.torch_io import from_module

METHODS = ["spectral", "lipsdp-neuron", "sampling", "ascent"]


def rings(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Points on two noisy rings (radius 1 and 2) in R^2, labelled −1 and +1."""
    labels = torch.randint(0, 2, (n,), generator=generator).double() * 2 - 1
    angles = torch.rand(n, generator=generator, dtype=torch.float64) * 2 * torch.pi
    radii = 1.5 + 0.5 * labels + 0.1 * torch.randn(n, generator=generator, dtype=torch.float64)
    points = torch.stack([radii * torch.cos(angles), radii * torch.sin(angles)], dim=1)
    return points, labels[:, None]


def train(model: nn.Module, epochs: int = 300) -> nn.Module:
    """Adam on the square loss, full batch."""
    x, y = rings(256, torch.Generator().manual_seed(0))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        optimizer.step()
    print(f"trained: square loss {loss.item():.4f}")
    return model.eval()


def save_everywhere(model: nn.Sequential, folder: Path) -> dict[str, dict[str, object]]:
    """The files a PyTorch user writes, and what loading each one needs."""
    state = folder / "mlp.pt"
    torch.save(model.state_dict(), state)  # stores no activation: name it when loading
    tensors = folder / "mlp.safetensors"
    save_file(model.state_dict(), tensors, metadata={"activation": "tanh"})
    doors: dict[str, dict[str, object]] = {
        str(state): {"activation": "tanh"},
        str(tensors): {},
    }
    onnx_file = folder / "mlp.onnx"
    try:  # torch's default exporter writes mlp.onnx and its weights beside it, in mlp.onnx.data
        single = copy.deepcopy(model).float()
        torch.onnx.export(single, (torch.zeros(1, 2),), onnx_file, verbose=False)
        doors[str(onnx_file)] = {}
    except ImportError as error:  # the exporter needs onnxscript: pip install 'certify[onnx]'
        print(f"(no ONNX export here: {error})")
    return doors


def main(folder: Path) -> None:
    torch.manual_seed(0)
    model = train(nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 1)).double())

    report = certify(model, methods=METHODS, time_limit=5)
    print(report)
    print(f"\nmodule: Lipschitz constant in [{report.lower:.8g}, {report.upper:.8g}]")

    for path, options in save_everywhere(model, folder).items():
        from_file = certify(path, methods=METHODS, time_limit=5, **options)
        print(f"{Path(path).name:>17}: [{from_file.lower:.8g}, {from_file.upper:.8g}]")

    net = from_module(model)
    for claim in (2 * report.upper, 0.5 * report.lower):
        audit = audit_lipschitz(net, claim, time_limit=20)
        print(f"claim Lip ≤ {claim:.6g}: {audit.outcome}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as folder:
            main(Path(folder))
