"""Langfuse prompt management for `smishctl promote`: a chat-prompt version per artifact, and the
`production` label moved to the promoted one (and back on rollback)."""

from __future__ import annotations

import time
from typing import Any, cast
from urllib.parse import quote

from smishctl.core.errors import ConfigError
from smishctl.core.version import __version__
from smishctl.store.artifacts import PROMPT, SMS_PLACEHOLDER, Artifact
from smishctl.store.production import find_released_artifact
from smishctl.tracking.client import LangfuseSession, PushError, one_line
from smishctl.tracking.settings import LangfuseSettings, disabled_reason, langfuse_settings
from smishctl.util.fs import read_json
from smishctl.util.redact import redact_obj

MAX_VERSIONS_SCANNED = 50


def prompt_payload(artifact) -> tuple[list[dict], dict]:
    """The artifact's rendered chat messages (prompts/…/prompt.json "messages", with the {{sms}}
    variable) and the config stored with the Langfuse version (model, artifact id, labels, ...)."""

    if artifact.dir is None or not (artifact.dir / PROMPT).is_file():
        raise ConfigError(f"artifact {artifact.id} has no rendered prompt ({PROMPT})",
                          hint="only optimized artifacts can be published to Langfuse")
    data = read_json(artifact.dir / PROMPT)
    messages = [{"role": m["role"], "content": m["content"]} for m in data.get("messages") or []]
    manifest = artifact.info
    config = {
        "artifact_id": artifact.id,
        "model": manifest.model_name or manifest.model.get("litellm_model"),
        "labels": list(manifest.labels),
        "placeholder": data.get("placeholder", SMS_PLACEHOLDER),
        "program_sha256": manifest.program_sha256,
        "optimizer": manifest.optimizer_name,
        "smishctl_version": __version__,
    }
    return redact_obj(messages), redact_obj({k: v for k, v in config.items() if v is not None})


def publish_prompt(settings, artifact, *, label: str = "production", lf: LangfuseSettings | None = None,
                   enabled: bool = True) -> dict:
    """Point Langfuse's `label` at a chat-prompt version holding `artifact` (an Artifact or an id).

    Reuses the version already created for this artifact (matched on config.artifact_id) and moves
    the label to it; creates a new version (with the label) only when none exists. Idempotent.
    Never raises for Langfuse trouble: returns {"status": "pushed", "name", "version", "created",
    "labels", "url"}, {"status": "pending", "error"} or {"status": "disabled", "reason"}.
    """
    if not isinstance(artifact, Artifact):
        artifact = find_released_artifact(settings, str(artifact))
    lf = lf or langfuse_settings(settings, enabled=enabled)
    if lf is None:
        return {"status": "disabled", "reason": disabled_reason(settings, enabled=enabled)}
    messages, config = prompt_payload(artifact)
    deadline = time.monotonic() + lf.push_timeout
    name = lf.prompt_name
    try:
        with LangfuseSession(lf) as s:
            project_id = s.project_id(deadline)
            version = _find_version(s, name, artifact.id, deadline)
            created = version is None
            if created:
                from langfuse.api.prompts.types.create_chat_prompt_request import CreateChatPromptRequest
                from langfuse.api.prompts.types.create_chat_prompt_type import CreateChatPromptType

                request = CreateChatPromptRequest(
                    name=name, prompt=cast(Any, messages), config=config,  # pydantic validates the dicts
                    labels=[label], type=CreateChatPromptType.CHAT,
                    tags=["smishctl"], commit_message=f"smishctl promote {artifact.id}")
                result = s.call("POST prompts", s.api.prompts.create, request=request, deadline=deadline)
            else:
                labels = [lab for lab in version.labels if lab != "latest"]
                result = version
                if label not in labels:
                    result = s.call("PATCH prompt version", s.api.prompt_version.update, quote(name, safe=""),
                                    version.version, new_labels=[*labels, label], deadline=deadline)
    except PushError as exc:
        return {"status": "pending", "name": name, "host": lf.host, "error": redact_obj(str(exc))[:300]}
    except Exception as exc:  # noqa: BLE001 - never let Langfuse break a promotion
        return {"status": "pending", "name": name, "host": lf.host, "error": redact_obj(one_line(exc))}
    url = f"{lf.host}/project/{project_id}/prompts/{quote(name, safe='')}" if project_id else None
    return {"status": "pushed", "name": name, "version": result.version, "labels": list(result.labels),
            "created": created, "artifact_id": artifact.id, "host": lf.host, "url": url}


def rollback_prompt(settings, artifact, *, label: str = "production", lf: LangfuseSettings | None = None,
                    enabled: bool = True) -> dict:
    """Move `label` back to the version of `artifact` (the one production returns to).

    The same operation as publish_prompt — it finds the artifact's earlier version and moves the
    label there (creating a version only if Langfuse never saw that artifact)."""
    return publish_prompt(settings, artifact, label=label, lf=lf, enabled=enabled)


def _find_version(s: LangfuseSession, name: str, artifact_id: str, deadline: float):
    """The newest version of prompt `name` whose config names this artifact, else None."""
    metas = s.call("GET prompts", s.api.prompts.list, name=name, deadline=deadline)
    versions = sorted({v for m in metas.data if m.name == name for v in m.versions}, reverse=True)
    for v in versions[:MAX_VERSIONS_SCANNED]:
        prompt = s.call("GET prompt", s.api.prompts.get, quote(name, safe=""), version=v, deadline=deadline)
        config = prompt.config if isinstance(prompt.config, dict) else {}
        if config.get("artifact_id") == artifact_id:
            return prompt
    return None
