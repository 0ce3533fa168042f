"""Intents: the file format, the catalogue of translation rules, and the translation.

``read_intent`` checks an intent; ``translate`` turns it into task specs, a profile and
constraints, each derived figure with its rule (``Derivation``).
"""

from suanwang.scenario.intent.catalogue import Catalogue, default_catalogue, load_catalogue
from suanwang.scenario.intent.schema import IntentDoc, intent_from_data, read_intent
from suanwang.scenario.intent.translate import Derivation, Translation, translate

__all__ = [
    "Catalogue",
    "Derivation",
    "IntentDoc",
    "Translation",
    "default_catalogue",
    "intent_from_data",
    "load_catalogue",
    "read_intent",
    "translate",
]
