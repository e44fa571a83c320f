"""The protocol's numbers, named as the documentation names them: API version, gateway opcodes and close
codes, intents, permissions, channel and message types, interaction and option types, and Discord's limits.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

Json = dict[str, Any]

API_VERSION = 10
API_PREFIX = f"/api/v{API_VERSION}"
DISCORD_EPOCH_MS = 1420070400000  # "Reference > Snowflakes": ms since the first second of 2015

# --- "Opcodes and Status Codes" > Gateway Opcodes -------------------------------------------
OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_VOICE_STATE_UPDATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_GUILD_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

# --- "Opcodes and Status Codes" > Gateway Close Event Codes -----------------------------------
CLOSE_UNKNOWN_ERROR = 4000
CLOSE_UNKNOWN_OPCODE = 4001
CLOSE_DECODE_ERROR = 4002
CLOSE_NOT_AUTHENTICATED = 4003
CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_ALREADY_AUTHENTICATED = 4005
CLOSE_INVALID_SEQ = 4007
CLOSE_INVALID_SHARD = 4010
CLOSE_SHARDING_REQUIRED = 4011
CLOSE_INVALID_API_VERSION = 4012
CLOSE_INVALID_INTENTS = 4013
CLOSE_DISALLOWED_INTENTS = 4014

# --- "Gateway" > Gateway Intents ------------------------------------------------------------
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1  # privileged
INTENT_GUILD_PRESENCES = 1 << 8  # privileged
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_GUILD_MESSAGE_REACTIONS = 1 << 10
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_DIRECT_MESSAGE_REACTIONS = 1 << 13
INTENT_MESSAGE_CONTENT = 1 << 15  # privileged
# Every documented intent bit (0-16, 20, 21, 24, 25); anything else closes with 4013.
VALID_INTENTS = sum(1 << b for b in (*range(17), 20, 21, 24, 25))

# --- "Application Resource" > Application Flags (the *_LIMITED flavour an unverified bot gets) --
APP_FLAG_GATEWAY_PRESENCE_LIMITED = 1 << 13
APP_FLAG_GATEWAY_GUILD_MEMBERS_LIMITED = 1 << 15
APP_FLAG_GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19
APP_FLAG_APPLICATION_COMMAND_BADGE = 1 << 23

# --- "Permissions" > Bitwise Permission Flags -------------------------------------------------
P_CREATE_INSTANT_INVITE = 1 << 0
P_ADMINISTRATOR = 1 << 3
P_ADD_REACTIONS = 1 << 6
P_VIEW_CHANNEL = 1 << 10
P_SEND_MESSAGES = 1 << 11
P_MANAGE_MESSAGES = 1 << 13
P_EMBED_LINKS = 1 << 14
P_ATTACH_FILES = 1 << 15
P_READ_MESSAGE_HISTORY = 1 << 16
P_MENTION_EVERYONE = 1 << 17
P_USE_EXTERNAL_EMOJIS = 1 << 18
P_CONNECT = 1 << 20
P_SPEAK = 1 << 21
P_CHANGE_NICKNAME = 1 << 26
P_USE_APPLICATION_COMMANDS = 1 << 31
P_MANAGE_THREADS = 1 << 34
P_CREATE_PUBLIC_THREADS = 1 << 35
P_CREATE_PRIVATE_THREADS = 1 << 36
P_SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1

DEFAULT_EVERYONE_PERMISSIONS = (
    P_CREATE_INSTANT_INVITE
    | P_ADD_REACTIONS
    | P_VIEW_CHANNEL
    | P_SEND_MESSAGES
    | P_EMBED_LINKS
    | P_ATTACH_FILES
    | P_READ_MESSAGE_HISTORY
    | P_USE_EXTERNAL_EMOJIS
    | P_CONNECT
    | P_SPEAK
    | P_CHANGE_NICKNAME
    | P_USE_APPLICATION_COMMANDS
    | P_CREATE_PUBLIC_THREADS
    | P_SEND_MESSAGES_IN_THREADS
)
DEFAULT_BOT_PERMISSIONS = DEFAULT_EVERYONE_PERMISSIONS | P_MANAGE_MESSAGES | P_MANAGE_THREADS
SEND_DENY_MASK = P_SEND_MESSAGES | P_SEND_MESSAGES_IN_THREADS | P_CREATE_PUBLIC_THREADS | P_CREATE_PRIVATE_THREADS

# --- "Channel Resource" > Channel Types ------------------------------------------------------
CH_GUILD_TEXT = 0
CH_DM = 1
CH_GUILD_CATEGORY = 4
CH_GUILD_ANNOUNCEMENT = 5
CH_PUBLIC_THREAD = 11
CH_PRIVATE_THREAD = 12
CH_GUILD_FORUM = 15
THREAD_TYPES = (10, CH_PUBLIC_THREAD, CH_PRIVATE_THREAD)
CHANNEL_KINDS = {
    "text": CH_GUILD_TEXT,
    "category": CH_GUILD_CATEGORY,
    "announcement": CH_GUILD_ANNOUNCEMENT,
    "forum": CH_GUILD_FORUM,
}

# --- "Message Resource" > Message Types / Flags -----------------------------------------------
MSG_DEFAULT = 0
MSG_REPLY = 19
MSG_CHAT_INPUT_COMMAND = 20
FLAG_HAS_THREAD = 1 << 5
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7

# --- "Receiving and Responding" > Interaction (Callback) Types --------------------------------
IT_APPLICATION_COMMAND = 2
IT_AUTOCOMPLETE = 4
CB_CHANNEL_MESSAGE_WITH_SOURCE = 4
CB_DEFERRED_CHANNEL_MESSAGE = 5
CB_DEFERRED_UPDATE_MESSAGE = 6
CB_UPDATE_MESSAGE = 7
CB_AUTOCOMPLETE_RESULT = 8
CB_MODAL = 9

# --- "Application Commands" > Application Command Option Type --------------------------------
OPT_SUB_COMMAND = 1
OPT_SUB_COMMAND_GROUP = 2
OPT_STRING = 3
OPT_INTEGER = 4
OPT_BOOLEAN = 5
OPT_USER = 6
OPT_CHANNEL = 7
OPT_ROLE = 8
OPT_MENTIONABLE = 9
OPT_NUMBER = 10

# --- "Message Resource" > Embed Limits --------------------------------------------------------
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TITLE = 256
MAX_EMBED_DESCRIPTION = 4096
MAX_EMBED_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER_TEXT = 2048
MAX_AUTHOR_NAME = 256
MAX_EMBED_TOTAL = 6000

# Parsed request bodies travel from the middleware to the handlers in the request's storage.
_BODY = web.RequestKey("fake_discord_body", object)
_FILES = web.RequestKey("fake_discord_files", list)

_MENTION_RE = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION_RE = re.compile(r"<@&(\d+)>")
_CUSTOM_EMOJI_RE = re.compile(r"^(?:a?:)?([\w~]{1,32}):(\d+)$")
_COMMAND_NAME_RE = re.compile(r"^[-_'\w]{1,32}$")
