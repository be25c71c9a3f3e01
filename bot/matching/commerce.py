"""Lexical evidence that a message sells something: a price by the month, a commission, an order,
or a fee asked to release a grant (an advance-fee scam).

Vendors write in the mission's words (volunteers abroad, a project in Senegal, solidarity): what
gives them away is how they talk about money *they* would receive. A requester's amounts are a
budget or a grant ("notre budget est de 8 000 €", "la subvention couvre 50 %") and match none of
these cues. The share found, from 0 to 1, is one feature the calibration weighs on the
out-of-scope families.
"""

from __future__ import annotations

import re

from .prepare import fold

_PRICE = r"\d[\d .,]*\s*(?:eur\b|euros?\b|usd\b|dollars?\b|reais\b)"
# Each cue is one kind of commercial wording, written on folded text (lowercase, no accents).
CUES = {
    # A price for a unit sold: "12 € le pot", "29 € par contrat", "9 euros each". Not a period nor a
    # person: "15 000 € par an" is a requester's budget, "580 € par mois" a volunteer's allowance.
    "price_per": rf"{_PRICE}\s*(?:ht\s*|ttc\s*)?"
                 r"(?:/\s*|par\s+|le\s+|la\s+|l'|each\b|per\s+|a\s+|an?\s+|por\s+|al\s+)"
                 r"(?:pot|piece|unite|kit|exemplaire|contrat|salarie|licence|utilisateur|user|seat|unit|item"
                 r"|pieza|unidad|pezzo|peca)",
    # A unit at a price: "pot de 500 g à 12 €", "kit à 49 euros", "places à 15 €".
    "unit_price": r"\b(?:pots?|pieces?|kits?|cartons?|lots?|boites?|bouteilles?|sachets?|places?|billets?|colis"
                  rf"|paniers?|exemplaires?)\b[^.\n]{{0,25}}?\b(?:a|pour)\s+{_PRICE}",
    # A price list: "dès 29 €", "from 49 $", "à partir de 15 € HT", "only 9 euros".
    "price_from": rf"(?:\b(?:des|from|starting at|desde|seulement|only|just)\s+{_PRICE}"
                  rf"|a partir de\s+{_PRICE}\s*(?:ht|ttc|par|/|le|la))",
    # A share of what is sold, paid back to the network: a commission, "rétrocession", "reversons".
    "commission": r"(?:retrocession|commission\s+(?:de\s+)?\d+\s?%|\d+\s?%\s+(?:de\s+)?commission"
                  r"|contre\s+une\s+commission|commission\s+sur\s+(?:chaque|les\s+ventes|le\s+chiffre)"
                  r"|(?:vous|leur)\s+revers(?:ons|erons)|reversons\s+\d+\s?%"
                  r"|apporteur d'affaires|commission on|kickback|referral fee)",
    # An order: "passer commande", "bon de commande", "commandez", "order now".
    "order": r"(?:pass(?:er|ez)\s+(?:votre\s+|une\s+)?commande|bon\s+de\s+commande|commandez"
             r"|commander\s+(?:vos|des|nos)\b|prise\s+de\s+commande|vos\s+commandes|order\s+(?:now|form|today)"
             r"|place\s+an\s+order|hacer\s+(?:un\s+)?pedido|fazer\s+(?:uma\s+)?encomenda|ordinare)",
    # An offer kept for networks, members or partners: "offre réservée aux réseaux", "tarif adhérent".
    "reserved_offer": r"(?:offre\s+(?:reservee|exclusive|speciale|partenaire|privilege)"
                      r"|tarif\s+(?:preferentiel|reduit|privilegie|adherent|partenaire|de\s+groupe)"
                      r"|prix\s+(?:preferentiel|reduit|special|de\s+gros)|remise\s+de\s+\d+"
                      r"|\d+\s?%\s+de\s+(?:remise|reduction)|code\s+promo|promo\s+code|discount"
                      r"|sans\s+engagement|essai\s+gratuit|free\s+trial|devis\s+gratuit"
                      r"|abonnement\s+(?:a|de)\s|subscription)",
    # Goods sold: a catalogue, a product sold to fund a project, a price list.
    "goods": r"(?:notre\s+catalogue|catalog(?:ue|o)\s+(?:joint|en\s+ligne|ci-joint|de\s+nos\s+produits|en\s+linea"
             r"|online|in\s+allegato|em\s+anexo)|nos\s+produits|grille\s+tarifaire|nos\s+tarifs"
             r"|our\s+(?:prices|pricing|products)|(?:vend|vendons|vente\s+de)\s+(?:le|la|les|du|des|nos)\s"
             r"|frais\s+de\s+port|livraison\s+(?:offerte|gratuite)|spedizione\s+gratuita|envio\s+gratuito"
             r"|free\s+shipping)",
    # A fee asked before money is paid out: the advance-fee scam dressed as a grant or a prize. A
    # requester asks about "frais de dossier" or when funds are released, never for a release fee.
    "advance_fee": r"(?:(?:processing|release|transfer|handling|activation|clearance)\s+fee"
                   r"|frais\s+de\s+(?:deblocage|traitement|transfert|activation|liberation)"
                   r"|tasa\s+de\s+(?:tramitacion|liberacion|transferencia)|taxa\s+de\s+(?:liberacao|processamento)"
                   r"|tassa\s+di\s+(?:sblocco|elaborazione)|releases?\s+(?:the|your)\s+funds"
                   r"|(?:debloquer|liberer)\s+(?:les|vos)\s+fonds)",
    # Money announced to someone who asked for none, and how scams want to be paid.
    "windfall": r"(?:dear\s+beneficiary|cher\s+beneficiaire|(?:estimado|caro)\s+beneficiario|pre-?approved"
                r"|pre-?approuvee?s?\b|ha\s+sido\s+aprobad[oa]|preselectionnee?s?\s+pour\s+(?:une|un)\s+(?:subvention|financement|don)"
                r"|western\s+union|moneygram|cartes?\s+cadeaux?|gift\s+cards?)",
}
_CUES = {name: re.compile(pattern) for name, pattern in CUES.items()}
# Two kinds of wording are as good as many: one may be chance ("tarif réduit" of a training).
ENOUGH = 2


def cues(text: str) -> list[str]:
    """The kinds of commercial wording ``text`` uses (names of ``CUES``)."""
    # fold drops what is not ASCII, the currency signs with it.
    folded = fold(text.replace("€", " euros ").replace("$", " dollars "))
    return [name for name, pattern in _CUES.items() if pattern.search(folded)]


def commercial(text: str) -> float:
    """From 0 (no commercial wording) to 1 (``ENOUGH`` kinds of it or more)."""
    return min(1.0, len(cues(text)) / ENOUGH)
