"""The peers benchmark: its PyTorch models are kzoo's at the same sizes, and its ratios are
kzoo's throughput over the fastest peer's of the same round (its runs are timed by `python -m
benchmarks peers`)."""

import importlib.util

import pytest

from benchmarks import peers

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")


def _count(module):
    return sum(p.numel() for p in module.parameters())


@needs_torch
def test_the_pytorch_models_have_kzoos_parameter_counts():
    import kzoo
    from benchmarks import _torch_peers as torch_peers

    gpt = dict(num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16)
    ours = kzoo.build_gpt(vocabulary_size=11, max_sequence_length=6, **gpt)
    assert _count(torch_peers.GPT(11, 6, **gpt)) == ours.count_params()
    ours = kzoo.build_rnn_generator(vocabulary_size=11, embedding_dim=4, units=8, rnn="lstm")
    assert _count(torch_peers.CharLSTM(11, 4, 8, 0.2)) == ours.count_params() + 4 * 8
    ours = kzoo.build_kim_cnn(vocabulary_size=11, embedding_dim=4, filters=3, num_classes=2)
    assert _count(torch_peers.KimCNN(11, 4, 3, (3, 4, 5))) == ours.count_params()


@needs_torch
def test_the_pytorch_gpt_drops_attention_weights_in_training_as_kzoos_blocks_do():
    import torch

    from benchmarks import _torch_peers as torch_peers

    torch.manual_seed(0)
    block = torch_peers.Block(width=8, heads=2, intermediate=16, dropout=0.5)
    block.dropout = torch.nn.Identity()  # only the attention's own dropout is left
    x = torch.randn(2, 5, 8)
    assert not torch.allclose(block.train()(x), block(x))
    assert torch.allclose(block.eval()(x), block(x))


@needs_torch
def test_kim_cnn_pools_only_windows_that_cover_the_sentence():
    import torch

    from benchmarks import _torch_peers as torch_peers

    torch.manual_seed(0)
    model = torch_peers.KimCNN(11, 4, 3, (3,), dropout=0.0).eval()
    ids = torch.tensor([[5, 6, 0, 0, 0, 0]])
    longer = torch.tensor([[5, 6, 0, 0, 0, 0, 0, 0, 0]])
    # More padding changes nothing: padded positions never win the max.
    assert torch.allclose(model(ids), model(longer))


def _result(rate, parameters=100):
    result = {"parameters": parameters, "threads": 2, "precision": "float32", "xla": True}
    return (rate, 1.0, 500, result)


def test_kzoo_is_divided_by_the_fastest_peer_of_each_round():
    figures = {
        ("gpt", "kzoo"): [_result(100), _result(90)],
        ("gpt", "jax"): [_result(50), _result(120)],
        ("gpt", "torch"): [_result(80), _result(60)],
    }
    report = peers._report(
        ["gpt"], ["kzoo", "jax", "torch"], figures, [], (0.1,) * 3, (0.2,) * 3, 2, 4, 2
    )
    kzoo_row = report.rows[0]
    # Round 1: 100 / 80 = 1.25; round 2: 90 / 120 = 0.75; median 1.0.
    assert kzoo_row[5] == "1.00 [0.75–1.25]"
    # How each trained: kzoo's recipe with XLA, JAX under jax.jit, PyTorch eagerly.
    assert [row[2] for row in report.rows] == ["float32, XLA", "float32, jax.jit", "float32, eager"]
    assert "gpt: kzoo ÷ fastest peer 1.00 (lowest round 0.75): missed" in report.notes[0]


def test_a_failed_peer_is_left_out_of_the_ratio():
    figures = {("gpt", "kzoo"): [_result(100)], ("gpt", "torch"): [_result(50)]}
    report = peers._report(
        ["gpt"], ["kzoo", "jax", "torch"], figures, [], (0,) * 3, (0,) * 3, 1, 4, 2
    )
    assert report.rows[0][5] == "2.00 [2.00–2.00]"
    assert report.rows[1][2] == "failed"
