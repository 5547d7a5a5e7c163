"""One module per architecture; importing this package registers every model factory."""

from kzoo.models.attention_seq2seq import attention_scores_model, build_attention_seq2seq
from kzoo.models.cnn_sentiment import build_cnn_sentiment, build_kim_cnn
from kzoo.models.encoder_decoder_classifier import build_encoder_decoder_classifier
from kzoo.models.gan import GAN, build_gan
from kzoo.models.gpt import build_gpt, gpt_call_with_cache, gpt_initial_cache
from kzoo.models.lstm_classifier import build_lstm_classifier
from kzoo.models.mha_classifier import build_mha_classifier
from kzoo.models.pretrained import build_pretrained_classifier
from kzoo.models.rnn_generator import build_rnn_generator, rnn_generator_step_model
from kzoo.models.seq2seq import build_seq2seq, seq2seq_inference_models
from kzoo.models.word2vec import build_word2vec, build_word2vec_classifier, word2vec_vectors

__all__ = [
    "GAN",
    "attention_scores_model",
    "build_attention_seq2seq",
    "build_cnn_sentiment",
    "build_kim_cnn",
    "build_encoder_decoder_classifier",
    "build_gan",
    "build_gpt",
    "build_lstm_classifier",
    "build_mha_classifier",
    "build_pretrained_classifier",
    "build_rnn_generator",
    "build_seq2seq",
    "build_word2vec",
    "build_word2vec_classifier",
    "gpt_call_with_cache",
    "gpt_initial_cache",
    "rnn_generator_step_model",
    "seq2seq_inference_models",
    "word2vec_vectors",
]
