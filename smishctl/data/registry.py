"""Named reference datasets: where they come from, how to read them, what they may be used for."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    filename: str  # the file name in the local cache and in a mirror folder
    url: str
    sha256: str
    format: str  # "csv" | "tsv" | "json" | "jsonl" | "parquet"
    text_column: str
    label_column: str
    labels: tuple[str, ...]
    licence: str
    citation: str
    header: bool = True
    archive_member: str | None = None  # when `url` is a zip, the member to extract
    notes: str = ""
    read_options: dict = field(default_factory=dict)
    all_test: bool = False  # every item goes to the test split (evaluation-only sets)


REGISTRY: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="sms-phishing",
            filename="sms_phishing_mendeley_5971.csv",
            url="https://raw.githubusercontent.com/mwiewior/llmops-webinar/main/data/sms_phishing.csv",
            sha256="649844f1c62a6b27e145eaf17a65f7010c56c390e11a794ea8329993a05ba71e",
            format="csv",
            text_column="TEXT",
            label_column="LABEL",
            labels=("ham", "spam", "smishing"),
            licence="CC BY 4.0",
            citation=(
                "Mishra, S. & Soni, D. SMS Phishing Dataset for Machine Learning and Pattern Recognition. "
                "Mendeley Data, V1, 2022. doi:10.17632/f45bkkt8pr.1"
            ),
            notes="5,025 texts also appear in uci-sms-spam: never train on one and test on the other.",
        ),
        DatasetSpec(
            name="uci-sms-spam",
            filename="uci_SMSSpamCollection.tsv",
            url="https://archive.ics.uci.edu/static/public/228/sms+spam+collection.zip",
            archive_member="SMSSpamCollection",
            sha256="7d039a24a6083ed9ef0f806ebad56bbb976e3aeb8de05669173bfdc4996c239d",
            format="tsv",
            header=False,
            text_column="text",
            label_column="label",
            labels=("ham", "spam"),
            licence="CC BY 4.0",
            citation=(
                "Almeida, T.A., Gómez Hidalgo, J.M., Yamakami, A. Contributions to the Study of SMS Spam "
                "Filtering: New Collection and Results. DocEng 2011. doi:10.24432/C5CC84"
            ),
            notes="Two classes only. Overlaps sms-phishing (see there).",
        ),
        DatasetSpec(
            name="robustness",
            filename="robustness/injection.jsonl",
            url="bundled:datasets/robustness/injection.jsonl",
            sha256="aa3fbd6cd3d7897e2b9828f96c5654dc04d773b54eddca55abed506219d70bf2",
            format="jsonl",
            text_column="text",
            label_column="label",
            labels=("ham", "spam", "smishing"),
            licence="Apache-2.0 (written for smishctl)",
            citation="smishctl prompt-injection robustness set (datasets/robustness/build_injection.py)",
            notes="Evaluation only (all items in test): smishing/spam carrying instructions aimed at the "
            "classifier, plus ham controls. Reports attack_success_rate.",
            all_test=True,
        ),
        DatasetSpec(
            name="modern",
            filename="modern/modern_sms.csv",
            url="bundled:datasets/modern/modern_sms.csv",
            sha256="9e51dcbca9263e1ece05c063ca70f5b8a3a727eca6464ca602c843eaed02c348",
            format="csv",
            text_column="text",
            label_column="label",
            labels=("ham", "spam", "smishing"),
            licence="Apache-2.0 (written for smishctl)",
            citation="smishctl modern SMS set (datasets/modern/README.md, labelling guide docs/labelling.md)",
            notes="Evaluation only (all items in test): 286 messages of 2024-2026 traffic (tolls, parcel fees, "
            "'hi mum', task scams, OTP theft; hard ham and personal-looking spam) across seven locales.",
            all_test=True,
        ),
        DatasetSpec(
            name="modern-train",
            filename="modern/modern_train.csv",
            url="bundled:datasets/modern/modern_train.csv",
            sha256="57e4ee1985177d6bacaefd300286dc1dcb4a4c2d0f327b5a8509331fea9742c2",
            format="csv",
            text_column="text",
            label_column="label",
            labels=("ham", "spam", "smishing"),
            licence="Apache-2.0 (written for smishctl)",
            citation="smishctl modern training pool (datasets/modern/README.md, labelling guide docs/labelling.md)",
            notes="Opt-in training data: 613 messages of 2024-2026 traffic whose templates and smishing campaigns "
            "are not in `modern` (eSIM swaps, marketplace buyers, fake landlords, voicemail and shared-document "
            "lures...); a third of its ham links to official domains. Use as --train-dataset or via feedback import.",
        ),
    )
}

DEFAULT_DATASET = "sms-phishing"
