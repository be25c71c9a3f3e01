"""Android mail apps (Samsung, K-9, Zoho's and others): "---- X wrote ----" lines and phone footers."""

from __future__ import annotations

from . import Client

CLIENT = Client(
    name="android",
    history=(
        r"-{2,}\s*.{1,160}?\s(wrote|a\s+écrit)\s*-{2,}",
        r"-{3,}\s*(original message|message d'origine)\s*-{3,}",
        r"sent from samsung mobile.{0,120}?\swrote\s*:",
    ),
    footer=(r"(envoyé|sent) (de|depuis|from) (mon|my) (smartphone|téléphone|telephone|mobile|portable|appareil|"
            r"android|galaxy|samsung)[\w .'-]{0,40}",),
)
