"""One module per architecture; importing this package registers every model factory.

A new model is its module and one import line here: `__all__`, and so `kzoo`'s top level,
lists every registered factory. What belongs to one family (a GPT's cached call, a seq2seq
model's inference models...) stays in its module.
"""

from kzoo.models.attention_seq2seq import build_attention_seq2seq
from kzoo.models.bilstm_tagger import build_bilstm_tagger
from kzoo.models.cnn_sentiment import build_cnn_sentiment, build_kim_cnn
from kzoo.models.encoder_decoder_classifier import build_encoder_decoder_classifier
from kzoo.models.gan import GAN, build_gan
from kzoo.models.gpt import build_gpt
from kzoo.models.lstm_classifier import build_lstm_classifier
from kzoo.models.mha_classifier import build_mha_classifier
from kzoo.models.pretrained import build_pretrained_classifier, build_pretrained_generator
from kzoo.models.rnn_generator import build_rnn_generator
from kzoo.models.seq2seq import build_seq2seq
from kzoo.models.transformer_seq2seq import build_transformer_seq2seq
from kzoo.models.word2vec import build_word2vec, build_word2vec_classifier
from kzoo.registry import get_model_entry, list_models

# The GAN's model class, and the factories that need a preset (so are in no registry of
# models built from nothing), beside every registered factory.
__all__ = sorted(
    ["GAN", "build_pretrained_classifier", "build_pretrained_generator"]
    + [get_model_entry(name).builder.__name__ for name in list_models()]
)
