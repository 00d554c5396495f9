"""Build the 10 configs of the RVCBench dataset in exactly upstream's layout, small, from the real demo speech.

Each config folder: `metadata.parquet` with upstream's 20 canonical columns in order (plus the config's extra
columns), `audios/<speaker>/<file>.wav`; Background_noise also carries its noisy-prompt pairs
`filelists_noise/pairs_10dB_cross.json` (legacy `ori_*`/`gt_*` records, as upstream's loader reads them) and
Multispeaker_libri pre-mixed prompts. Speaker ids follow each corpus's own scheme, so VCTK ids recur across the
VCTK-derived configs and LibriSpeech ids across the LibriSpeech-derived ones, as in the real data; the audio is
the demo set's (English read speech), only the labels say Mandarin or French. No download: the tests make it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from rvcbench.audio import load_audio_at, save_audio
from rvcbench.data.demo import demo_dataset_root
from rvcbench.data.manifest import CANONICAL_COLUMNS
from rvcbench.transforms.noise import mix_at_snr

SR = 16000
ZH_TEXT = "今天天气很好，我们去公园散步吧。"
FR_TEXT = "Le chat dort sur le canapé depuis ce matin."

# config → [(speaker id in that corpus, demo speaker whose recordings stand in), ...], language pair, extras
CONFIGS: dict[str, dict] = {
    "Libritts": {"speakers": [("1089", "vctk_p231"), ("1284", "vctk_p252")]},
    "VCTK": {"speakers": [("p225", "vctk_p225"), ("p226", "vctk_p226")],
             "extra": lambda spk: {"accent": "English" if spk == "p225" else "Scottish", "gender": "F"}},
    "AISHELL1_dev": {"speakers": [("S0724", "vctk_p275"), ("S0725", "arctic_axb")], "lang": ("zh", "zh")},
    "CommonVoiceFR_dev": {"speakers": [("fr_0a1b", "vctk_p240"), ("fr_9c2d", "vctk_p312")], "lang": ("fr", "fr")},
    "Bilingual_uedin": {"speakers": [("MF1", "vctk_p228"), ("MM1", "arctic_aew")], "lang": ("en", "zh")},
    "Background_noise": {"speakers": [("p226", "vctk_p226"), ("p227", "vctk_p227")]},
    "Multispeaker_libri": {"speakers": [("1284", "vctk_p252"), ("61", "vctk_p275")], "mix_with": "vctk_p231",
                           "extra": lambda spk: {"interferer_id": "121", "snr_db": 0.0}},
    "Long_context": {"speakers": [("1089", "vctk_p231"), ("1272", "vctk_p228")], "long": True},
    "robotcall": {"speakers": [("p227", "vctk_p227"), ("p228", "vctk_p228")],
                  "extra": lambda spk: {"spam_type": "irs_scam" if spk == "p227" else "car_warranty"}},
    "vctk_text_robust": {"speakers": [("p225", "vctk_p225"), ("p228", "vctk_p228")]},
}


def demo_recordings() -> dict[str, list[tuple[Path, str]]]:
    root = demo_dataset_root()
    manifest = pd.read_parquet(root / "metadata.parquet")
    out: dict[str, list[tuple[Path, str]]] = {}
    for row in manifest.itertuples():
        out.setdefault(row.speaker_id, []).append((root / row.target_file_name, row.target_text))
    return out


def build_config(root: Path, name: str, spec: dict, recordings: dict, rng: np.random.Generator) -> Path:
    folder = root / name
    rows, noisy = [], []
    prompt_lang, target_lang = spec.get("lang", ("en", "en"))
    for index, (speaker, demo_speaker) in enumerate(spec["speakers"]):
        (target_src, target_text), (prompt_src, prompt_text) = recordings[demo_speaker][:2]
        target = load_audio_at(target_src, SR)
        prompt = load_audio_at(prompt_src, SR)
        if spec.get("long"):
            target = np.concatenate([load_audio_at(p, SR) for p, _ in recordings[demo_speaker]])
            target_text = " ".join(t for _, t in recordings[demo_speaker])
        if "mix_with" in spec:
            interferer = load_audio_at(recordings[spec["mix_with"]][2][0], SR)
            interferer = np.resize(interferer, prompt.shape)
            prompt = mix_at_snr(prompt, interferer, 0.0).astype(np.float32)
        texts = {"zh": ZH_TEXT, "fr": FR_TEXT}
        prompt_text = texts.get(prompt_lang, prompt_text)
        target_text = texts.get(target_lang, target_text)
        prompt_file = f"audios/{speaker}/{speaker}_{index:03d}_prompt.wav"
        target_file = f"audios/{speaker}/{speaker}_{index:03d}.wav"
        save_audio(folder / prompt_file, prompt, SR)
        save_audio(folder / target_file, target, SR)
        row = {c: "" for c in CANONICAL_COLUMNS}
        row.update(dataset_name=name, split="test", pair_id=f"{name}-{speaker}-{index:06d}", speaker_id=speaker,
                   prompt_file_name=prompt_file, prompt_speaker_id=speaker, prompt_language=prompt_lang,
                   prompt_text=prompt_text, target_file_name=target_file, target_speaker_id=speaker,
                   target_language=target_lang, target_text=target_text, source_manifest=f"{speaker}.json",
                   source_row=index)
        row.update(spec["extra"](speaker) if "extra" in spec else {})
        rows.append(row)
        if name == "Background_noise":
            noisy_file = f"audios/{speaker}/{speaker}_{index:03d}_prompt_noisy10dB.wav"
            noise = rng.standard_normal(len(prompt)).astype(np.float32)
            save_audio(folder / noisy_file, mix_at_snr(prompt, noise, 10.0).astype(np.float32), SR)
            noisy.append({"ori_pth": noisy_file, "ori_spk": speaker, "ori_lang": "en", "ori_text": prompt_text,
                          "gt_pth": target_file, "gt_spk": speaker, "gt_lang": "en", "gt_text": target_text,
                          "pair_id": f"{name}-noisy-{speaker}-{index:06d}", "noise_type": "white", "snr_db": 10})
    frame = pd.DataFrame(rows)
    frame.to_parquet(folder / "metadata.parquet", index=False)
    if noisy:
        (folder / "filelists_noise").mkdir(parents=True, exist_ok=True)
        (folder / "filelists_noise" / "pairs_10dB_cross.json").write_text(json.dumps(noisy, indent=1))
    return folder


def build_rvcbench_layout(root: Path, configs: list[str] | None = None) -> Path:
    """All (or the named) configs under `root`, each `root/<Config>/` as upstream lays it out; returns `root`."""
    recordings = demo_recordings()
    rng = np.random.default_rng(0)
    for name in configs or list(CONFIGS):
        build_config(root, name, CONFIGS[name], recordings, rng)
    return root
