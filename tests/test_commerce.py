"""The lexical evidence of a commercial offer: sellers' wording found, requesters' amounts not."""

from __future__ import annotations

import pytest

from bot.matching.commerce import commercial, cues


@pytest.mark.parametrize("text", [
    "Pot de 250 g à 9 €, passez commande avant le 10 décembre",
    "Notre logiciel dès 15 € par mois, essai gratuit de 30 jours",
    "Nous proposons aux réseaux une rétrocession sur chaque contrat souscrit, offre réservée aux partenaires",
    "We pay partner networks a 12 % commission on each booking, order form attached",
    "Vendemos artesanía de nuestros socios, catálogo en línea, hacer un pedido es fácil: 20 euros por pieza",
])
def test_a_seller_s_wording_is_commercial(text: str) -> None:
    assert commercial(text) == 1.0, cues(text)


@pytest.mark.parametrize("text", [
    "Dear beneficiary, your grant of 60,000 euros is pre-approved: a processing fee of 350 euros releases the funds",
    "Votre association est présélectionnée pour une subvention de 40 000 €, réglez les frais de déblocage de 290 € "
    "par Western Union",
    "Estimado beneficiario, su fondo ha sido aprobado, pague la tasa de tramitación de 150 euros",
])
def test_money_asked_to_release_a_grant_is_commercial(text: str) -> None:
    # An advance-fee scam dressed as a grant uses the mission's words; what gives it away is the fee
    # asked to release the money.
    assert commercial(text) == 1.0, cues(text)


@pytest.mark.parametrize("text", [
    "Notre budget est de 8 000 € pour le puits, la subvention couvre 50 %",
    "Notre budget tourne autour de 15 000 € par an",
    "Le volontaire reçoit 580 € par mois, est-ce cumulable ?",
    "Faut-il souscrire une assurance rapatriement avant le départ ?",
    "La commission permanente de la Région vote les subventions en juin",
    "Une mission humanitaire à 2 400 € par personne, c'est normal ?",
    "Nous reversons les dons à notre partenaire au Mali : peut-on faire des reçus fiscaux ?",
    "Y a-t-il des frais de dossier pour déposer une demande de subvention à la Région ?",
    "Notre projet a été présélectionné par la fondation, quels documents envoyer pour le versement des fonds ?",
    "We were pre-selected for the Erasmus+ grant, when will the funds be released?",
])
def test_a_requester_s_amounts_are_not_commercial(text: str) -> None:
    assert commercial(text) < 1.0, cues(text)
