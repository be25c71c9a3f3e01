"""Apple Mail on iPhone, iPad and Mac: phone footers and forwards (its attribution is Gmail's shape)."""

from __future__ import annotations

from . import Client

CLIENT = Client(
    name="apple",
    forward=(r"(début du message (réexpédié|transféré)|begin forwarded message|anfang der weitergeleiteten "
             r"nachricht|inicio del mensaje reenviado|início da mensagem reencaminhada)\s*:",),
    footer=(r"(envoyé de|sent from|von|enviado desde|enviado do|inviato da) (mon |my |meinem |mi |meu )?"
            r"(iphone|ipad|mac)( gesendet)?",),
    inline=(r"<image\d{3}\.(png|jpe?g|gif)>",),
)
