"""Plain callback functions behind the Slack listeners; `listeners/*` registers them with Bolt.

Each takes the shared `SlackDeps` first (bound at registration) and then the Bolt arguments it names
(`event`, `client`, `respond`, ...). "ack_*" functions run inside Slack's 3-second window and only
acknowledge; "answer_*", "record_*" and "publish_*" are Bolt lazy listeners that run after the ack, so a
slow answer never makes Slack time out and resend.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any, Literal

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from assistant.owners import slack_owner
from assistant.safety import SafetyReport, assess, warning_message
from assistant.types import Answer, QuestionError, StreamEvent, Turn, UnknownMessage
from bots.slack.blocks import (
    ACTION_FEEDBACK_UP,
    ERROR_TEXT,
    PLACEHOLDER_TEXT,
    ShareRef,
    answer_blocks,
    escape,
    fallback_text,
    feedback_thanks,
    help_text,
    home_view,
)
from bots.slack.deps import SlackDeps
from bots.slack.inbound import conversation_key, question_text
from bots.slack.middleware import settled_claim

Body = dict[str, Any]

# --- messages: mentions and DMs ---------------------------------------------------------------------


def ack_event() -> None:
    """Events API requests are acknowledged by Bolt itself before any listener runs; nothing to add."""


def answer_mention(
    deps: SlackDeps, event: Body, body: Body, client: WebClient, context: BoltContext, logger: logging.Logger
) -> None:
    """Answer an @mention in the message's thread; the thread is the conversation, so follow-ups work."""
    thread_ts = event.get("thread_ts") or event["ts"]
    with settled_claim(deps.service, body):
        _answer_message(
            deps,
            client,
            logger,
            text=question_text(event.get("text", ""), context.bot_user_id),
            channel=event["channel"],
            user=event.get("user"),
            reply_thread_ts=thread_ts,
            ephemeral_thread_ts=event.get("thread_ts"),
            thread_key=conversation_key(_team(body, event), event["channel"], thread_ts),
            owner=slack_owner(_team(body, event), event.get("user")),
        )


def answer_direct_message(
    deps: SlackDeps, event: Body, body: Body, client: WebClient, context: BoltContext, logger: logging.Logger
) -> None:
    """Answer a DM in the DM: a reply in a thread stays in that thread (its own conversation); top-level
    messages answer top-level and share one running conversation per DM, so "and when did that start?"
    typed as the next message still knows what "that" is."""
    thread_ts = event.get("thread_ts")
    with settled_claim(deps.service, body):
        _answer_message(
            deps,
            client,
            logger,
            text=question_text(event.get("text", ""), context.bot_user_id),
            channel=event["channel"],
            user=event.get("user"),
            reply_thread_ts=thread_ts,
            ephemeral_thread_ts=thread_ts,
            thread_key=conversation_key(_team(body, event), event["channel"], thread_ts or "dm"),
            owner=slack_owner(_team(body, event), event.get("user")),
        )


def is_from_a_person(event: Body) -> bool:
    """Listener matcher: a new message a person wrote (not an edit, a deletion, or any bot's message)."""
    return "subtype" not in event and "bot_id" not in event and bool(event.get("user"))


def is_direct_message(event: Body) -> bool:
    """Listener matcher: a person's new DM to the app (not edits, deletions, or any bot's messages)."""
    return event.get("channel_type") == "im" and is_from_a_person(event)


def ignore_event(deps: SlackDeps, body: Body) -> None:
    """Edits, deletions, bots' messages, channel chatter: acknowledged (so Slack does not retry) and
    dropped; the claim is settled so a stray retry is dropped too."""
    with settled_claim(deps.service, body):
        return


def _team(body: Body, event: Body) -> str | None:
    return body.get("team_id") or event.get("team")


def _clicker(body: Body) -> tuple[str | None, str]:
    """The user id of whoever clicked a button, and their owner (see assistant/owners.py)."""
    user = body.get("user") or {}
    team = (body.get("team") or {}).get("id") or user.get("team_id")
    return user.get("id"), slack_owner(team, user.get("id"))


def _answer_message(
    deps: SlackDeps,
    client: WebClient,
    logger: logging.Logger,
    *,
    text: str,
    channel: str,
    user: str | None,
    reply_thread_ts: str | None,
    ephemeral_thread_ts: str | None,
    thread_key: str,
    owner: str,
) -> None:
    """Placeholder, answer, `chat.update` — unless the question holds patient data, which gets a private
    warning and nothing public (not even the placeholder), and is never passed on to be stored."""
    if not text:
        client.chat_postMessage(channel=channel, thread_ts=reply_thread_ts, text=help_text(deps.command))
        return

    report = assess(text)
    if report.identifiable:
        _warn_privately(client, channel, user, warning_message(report), ephemeral_thread_ts)
        return

    placeholder = client.chat_postMessage(channel=channel, thread_ts=reply_thread_ts, text=PLACEHOLDER_TEXT)
    ts = placeholder["ts"]
    try:
        # Each person's turns in a thread are their own conversation, under a random id looked up here.
        conversation_id = deps.service.thread_conversation(thread_key, owner)
        events = deps.service.stream(text, conversation_id, channel="slack", user=user, owner=owner)
        answer = _stream_into(client, channel, ts, events, deps.settings.slack.stream_update_s)
    except QuestionError as exc:
        client.chat_update(channel=channel, ts=ts, text=escape(str(exc)))
        return
    except Exception:
        logger.exception("answering a Slack message failed")
        client.chat_update(channel=channel, ts=ts, text=ERROR_TEXT)
        return

    if answer.personal_data:
        # The service's own check caught something ours did not: take the placeholder back, warn privately.
        client.chat_delete(channel=channel, ts=ts)
        _warn_privately(client, channel, user, answer.answer, ephemeral_thread_ts)
        return
    client.chat_update(channel=channel, ts=ts, text=fallback_text(answer), blocks=answer_blocks(answer))


def _stream_into(
    client: WebClient, channel: str, ts: str, events: Iterable[StreamEvent], every_s: float
) -> Answer:
    """Show the draft as it streams, one `chat.update` at most every `every_s`; return the final answer
    (its checked text may differ from the draft, so the caller always finalises the message)."""
    draft = ""
    last: float | None = None  # the clock starts at the first piece: an answer ready at once (the
    for event in events:  # extractive composer's) is never shown half-written
        if event.type == "final" and event.answer is not None:
            return event.answer
        draft += event.text
        now = time.monotonic()
        if last is None:
            last = now
        elif draft.strip() and now - last >= every_s:
            client.chat_update(channel=channel, ts=ts, text=escape(draft) + " …")
            last = now
    raise RuntimeError("the answer stream ended without a final answer")


def _warn_privately(
    client: WebClient, channel: str, user: str | None, message: str, thread_ts: str | None
) -> None:
    if user is None:
        return
    client.chat_postEphemeral(channel=channel, user=user, text=escape(message), thread_ts=thread_ts)


# --- slash command ---------------------------------------------------------------------------------


def _command_question(command: Body) -> tuple[str, SafetyReport]:
    text = question_text(command.get("text", ""))
    return text, assess(text)


def ack_command(deps: SlackDeps, ack: Ack, command: Body) -> None:
    """Acknowledge at once with a private placeholder (or usage help, or the personal-data warning)."""
    text, report = _command_question(command)
    if not text:
        ack(text=help_text(deps.command))
    elif report.identifiable:
        ack(text=escape(warning_message(report)))
    else:
        ack(text=PLACEHOLDER_TEXT)


def answer_command(deps: SlackDeps, command: Body, respond: Respond, logger: logging.Logger) -> None:
    """Replace the placeholder (through `response_url`) with a private answer and a "Share" button."""
    text, report = _command_question(command)
    if not text or report.identifiable:
        return  # the ack already said everything
    try:
        owner = slack_owner(command.get("team_id"), command.get("user_id"))
        answer = deps.service.answer(text, None, channel="slack", user=command.get("user_id"), owner=owner)
    except QuestionError as exc:
        respond(text=escape(str(exc)), response_type="ephemeral", replace_original=True)
        return
    except Exception:
        logger.exception("answering a Slack command failed")
        respond(text=ERROR_TEXT, response_type="ephemeral", replace_original=True)
        return

    share = None
    if answer.conversation_id and answer.message_id and not answer.personal_data:
        share = ShareRef(conversation_id=answer.conversation_id, message_id=answer.message_id)
    respond(
        text=fallback_text(answer),
        blocks=answer_blocks(answer, question=text, share=share),
        response_type="ephemeral",
        replace_original=True,
    )


# --- buttons ---------------------------------------------------------------------------------------


def ack_action(ack: Ack) -> None:
    """Button clicks must be acknowledged within 3 seconds or Slack shows the user an error."""
    ack()


def record_feedback(
    deps: SlackDeps, action: Body, body: Body, respond: Respond, logger: logging.Logger
) -> None:
    """Store a 👍/👎 for the answer (the button value is its message id) and thank the clicker privately."""
    rating: Literal["up", "down"] = "up" if action["action_id"] == ACTION_FEEDBACK_UP else "down"
    user, owner = _clicker(body)
    try:
        # Only the asker can rate: anyone else's click finds no answer of theirs, as over HTTP.
        deps.service.feedback(action["value"], rating, user=user, owner=owner)
    except UnknownMessage:
        logger.warning("feedback for an unknown message id %r", action.get("value"))
        respond(
            text="I couldn't find that answer any more, so the feedback wasn't recorded.",
            response_type="ephemeral",
            replace_original=False,
        )
        return
    respond(text=feedback_thanks(rating), response_type="ephemeral", replace_original=False)


def share_answer(deps: SlackDeps, action: Body, body: Body, respond: Respond) -> None:
    """Post a private slash-command answer to the channel, then remove the private copy.

    Slack does not send ephemeral messages back with the click, so the answer is rebuilt from the stored
    turn the button points at; notes shown only at answer time are not stored and so not shared.
    """
    ref = ShareRef.decode(action.get("value", ""))
    turn = _stored_turn(deps, ref, _clicker(body)[1]) if ref else None
    if ref is None or turn is None:
        respond(
            text="That answer is no longer available to share.",
            response_type="ephemeral",
            replace_original=False,
        )
        return
    answer = Answer(
        answer=turn.answer,
        grounded=turn.grounded,
        sources=turn.sources,
        conversation_id=ref.conversation_id,
        message_id=turn.message_id,
    )
    user = (body.get("user") or {}).get("id")
    respond(
        text=fallback_text(answer),
        blocks=answer_blocks(answer, question=turn.question, asked_by=user),
        response_type="in_channel",
        replace_original=False,
    )
    respond(delete_original=True)


def _stored_turn(deps: SlackDeps, ref: ShareRef, owner: str) -> Turn | None:
    conversation = deps.service.conversation(ref.conversation_id, owner)
    if conversation is None:
        return None
    return next((t for t in conversation.turns if t.message_id == ref.message_id), None)


# --- App Home --------------------------------------------------------------------------------------


def publish_home(deps: SlackDeps, event: Body, body: Body, client: WebClient) -> None:
    """Publish the App Home: what the library covers and how to ask (refreshed on every visit)."""
    with settled_claim(deps.service, body):
        if event.get("tab", "home") != "home":
            return
        client.views_publish(user_id=event["user"], view=home_view(deps.service.topics(), deps.command))
