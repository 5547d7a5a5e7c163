"""The PyTorch peers of `python -m benchmarks peers`: the models a PyTorch user would write
instead of kzoo's, at the same sizes (parameter counts are reported beside kzoo's).

- `GPT`: nanoGPT's way: token and position embeddings, pre-norm blocks with one fused
  query/key/value projection and `scaled_dot_product_attention` (causal, with nanoGPT's
  dropout of the attention weights in training, as kzoo's blocks have), a GELU MLP of
  `intermediate_dim`, a final LayerNorm and an untied head (kzoo's has biases and an untied
  head too, so the counts match).
- `CharLSTM`: `nn.Embedding` → `nn.LSTM` (cuDNN's layout on GPU, oneDNN on CPU) → locked
  dropout → `nn.Linear`.
- `KimCNN`: Kim's (2014) CNN: `nn.Conv1d` per width over the embedded words, ReLU, max over
  the positions a sentence covers (its padding masked), dropout, one logit; Adadelta and the
  max-norm of the output weights are applied by the training loop (`train_step`).
"""

import torch
from torch import nn
from torch.nn import functional as F


class Block(nn.Module):
    def __init__(self, width, heads, intermediate, dropout):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width, eps=1e-5)
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width, eps=1e-5)
        self.up = nn.Linear(width, intermediate)
        self.down = nn.Linear(intermediate, width)
        self.dropout = nn.Dropout(dropout)
        self.attention_dropout = dropout

    def forward(self, x):
        batch, steps, width = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(width, dim=2)
        q, k, v = (t.view(batch, steps, self.heads, -1).transpose(1, 2) for t in (q, k, v))
        # nanoGPT drops attention weights too, as keras-hub's blocks do (their attention's dropout).
        dropout_p = self.attention_dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
        y = y.transpose(1, 2).reshape(batch, steps, width)
        x = x + self.dropout(self.out(y))
        return x + self.dropout(self.down(F.gelu(self.up(self.norm2(x)))))


class GPT(nn.Module):
    def __init__(
        self,
        vocabulary_size,
        sequence_length,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        dropout=0.0,
    ):
        super().__init__()
        self.tokens = nn.Embedding(vocabulary_size, hidden_dim)
        self.positions = nn.Embedding(sequence_length, hidden_dim)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            Block(hidden_dim, num_heads, intermediate_dim, dropout) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(hidden_dim, eps=1e-5)
        self.head = nn.Linear(hidden_dim, vocabulary_size)

    def forward(self, ids):
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.dropout(self.tokens(ids) + self.positions(positions))
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


class CharLSTM(nn.Module):
    def __init__(self, vocabulary_size, embedding_dim, units, dropout=0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, units, batch_first=True)
        self.dropout = dropout
        self.head = nn.Linear(units, vocabulary_size)

    def forward(self, ids):
        x, _ = self.lstm(self.embedding(ids))
        if self.training and self.dropout:
            # One mask per sequence for every step, as kzoo's locked dropout.
            keep = torch.bernoulli(torch.full((x.shape[0], 1, x.shape[2]), 1 - self.dropout))
            x = x * keep / (1 - self.dropout)
        return self.head(x)


class KimCNN(nn.Module):
    def __init__(
        self, vocabulary_size, embedding_dim=300, filters=100, kernel_sizes=(3, 4, 5), dropout=0.5
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary_size, embedding_dim, padding_idx=0)
        self.convolutions = nn.ModuleList(
            nn.Conv1d(embedding_dim, filters, k, padding=k - 1) for k in kernel_sizes
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(filters * len(kernel_sizes), 1)

    def forward(self, ids):
        mask = ids != 0
        x = self.embedding(ids).transpose(1, 2)  # (batch, embedding, steps)
        pooled = []
        for convolution in self.convolutions:
            k = convolution.kernel_size[0]
            y = F.relu(convolution(x))  # (batch, filters, steps + k - 1): every window
            # A window covers a word of the sentence when it starts within its length.
            covered = F.pad(mask, (k - 1, 0))[:, : y.shape[2]] | F.pad(mask, (0, k - 1))
            y = y.masked_fill(~covered[:, None, :], float("-inf"))
            pooled.append(y.max(dim=2).values)
        return self.head(self.dropout(torch.cat(pooled, dim=1)))[:, 0]


def language_model_loss(logits, targets):
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=0)


def binary_loss(logits, labels):
    return F.binary_cross_entropy_with_logits(logits, labels.float())


def train_step(model, optimizer, loss_fn, inputs, targets, clipnorm=None, max_norm=None):
    """One step: forward, loss, backward, (clipping), update, (max-norm of the head)."""
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(model(inputs), targets)
    loss.backward()
    if clipnorm:
        nn.utils.clip_grad_norm_(model.parameters(), clipnorm)
    optimizer.step()
    if max_norm:
        with torch.no_grad():
            weight = model.head.weight  # (out, in): each output unit's incoming weights
            norms = weight.norm(dim=1, keepdim=True).clamp(min=1e-12)
            weight.mul_(torch.clamp(max_norm / norms, max=1.0))
    return loss
