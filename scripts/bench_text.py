#!/usr/bin/env python3
"""Benchmark plan(): plans per second for typical 1-3 part messages, on one core.

Usage: python scripts/bench_text.py [--seconds 1.0] [--json]

Each case is timed alone, then a weighted mix (what an SMPP server and a campaign preview
mostly see: short GSM texts, some long ones, some UCS-2). The target is >= 100,000 plans/s for
the mix. Figures on a shared machine are provisional.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from protocols.sms import TextProfile, plan  # noqa: E402

OTP = "Your verification code is 482913. It expires in 10 minutes. Do not share it."
REMINDER = ("Hi John, this is a reminder of your appointment with Dr. Smith on Monday 14 March at "
            "10:30. Please arrive 10 minutes early. Reply C to confirm or R to reschedule. ")
PROMO_3 = (REMINDER * 3)[:440]
VI_QC = ("[QC] Chao chi Lan, uu dai dac biet: giam 30% cho tat ca san pham den het Chu nhat. "
         "Tu choi nhan tin nhan, soan TC gui 9029")
HE = "שלום דנה, מבצע סוף עונה! 30% הנחה על כל הקולקציה עד יום שישי בחנויות ובאתר. להסרה השב הסר"
ZH = "【优选商城】尊敬的王先生，您的会员积分即将到期，请于本月底前兑换礼品。退订回T"
EMOJI = "Party tonight at 9 🎉🎉 bring friends! Reply STOP to opt out 🙏 " * 2
TR = ("Sayın Ayşe Hanım, İstanbul mağazamızda bu hafta sonu tüm ürünlerde %30 indirim sizi "
      "bekliyor. Görüşmek üzere! İptal için RET yazıp gönderin")

DEFAULT = TextProfile()
TURKEY = TextProfile(national_languages=("tr",))

# label, text, profile, weight in the mix
CASES = [
    ("otp 1 part gsm", OTP, DEFAULT, 40),
    ("reminder 2 parts gsm", REMINDER + REMINDER[:40], DEFAULT, 15),
    ("promo 3 parts gsm", PROMO_3, DEFAULT, 10),
    ("vietnamese [QC] 1 part escapes", VI_QC, DEFAULT, 10),
    ("hebrew 2 parts ucs2", HE, DEFAULT, 8),
    ("chinese 1 part ucs2", ZH, DEFAULT, 7),
    ("emoji 2 parts ucs2", EMOJI, DEFAULT, 5),
    ("turkish 1 part nls", TR, TURKEY, 5),
]


def rate(func, seconds: float) -> float:
    """Calls per second of func(), measured over about ``seconds``."""
    n = 1000
    while True:
        start = time.perf_counter()
        for _ in range(n):
            func()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed
        n = int(n * max(2.0, seconds / max(elapsed, 1e-6) * 1.1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    results = {}
    for label, text, profile, _ in CASES:
        em = plan(text, profile)
        r = rate(lambda t=text, p=profile: plan(t, p), args.seconds)
        results[label] = {"plans_per_s": round(r), "encoding": em.encoding, "segments": em.segments}

    mix = [(text, profile) for _, text, profile, weight in CASES for _ in range(weight)]

    def run_mix() -> None:
        for text, profile in mix:
            plan(text, profile)

    mix_rate = rate(run_mix, args.seconds) * len(mix)
    summary = {"cases": results, "mix_plans_per_s": round(mix_rate), "target": 100_000,
               "python": sys.version.split()[0]}
    if args.json:
        print(json.dumps(summary))
    else:
        for label, info in results.items():
            print(f"{label:34s} {info['encoding']:5s} {info['segments']} seg  "
                  f"{info['plans_per_s']:>10,} plans/s")
        verdict = "OK" if mix_rate >= 100_000 else "BELOW TARGET"
        print(f"{'weighted mix':34s} {'':5s} {'':5s}  {mix_rate:>10,.0f} plans/s  "
              f"(target 100,000: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
