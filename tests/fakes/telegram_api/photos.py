"""sendPhoto ("Available methods" > sendPhoto, "Sending files"): a photo uploaded with multipart/form-data, its
caption (0-1024 characters after entities parsing) formatted as a message's text is.

The uploaded bytes are kept (:attr:`_Photos.photos`, by chat and message id) so a test can decode the picture the
bot sent; the message carries ``photo`` as an array of PhotoSize. Deliberate gaps: the fake does not resize (one
PhotoSize, the upload's own size, read from the PNG header when it is a PNG), and a photo given by file_id or URL
is refused, as studybot only uploads.
"""

from __future__ import annotations

import hashlib
import struct

from tests.fakes.telegram_api.messages import _Messages
from tests.fakes.telegram_api.model import ApiError, Json, _bad
from tests.fakes.telegram_api.transport import _api, _Params

MAX_CAPTION_LENGTH = 1024  # "Photo caption, 0-1024 characters after entities parsing"
MAX_PHOTO_BYTES = 10 * 1024 * 1024  # "The photo must be at most 10 MB in size"


def png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR chunk, or None when the bytes are not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


class _Photos(_Messages):
    """Photos sent by the bot, with their bytes."""

    photos: dict[tuple[int, int], bytes]  # (chat id, message id) -> the uploaded bytes; set by FakeTelegram

    @_api("sendPhoto")
    async def _send_photo(self, p: _Params) -> Json:
        chat = self._chat_for_send(p)
        photo = p.data.get("photo")
        if not isinstance(photo, bytes | bytearray):
            raise _bad("wrong file identifier/HTTP URL specified")  # the fake takes uploads only
        if not photo:
            raise _bad("file must be non-empty")
        if len(photo) > MAX_PHOTO_BYTES:
            raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        size = png_size(bytes(photo))
        if size is None:
            raise _bad("IMAGE_PROCESS_FAILED")
        extra: Json = {}
        if p.has("caption"):
            raw, raw_entities = self._formatted(p, "caption", "parse_mode", "caption_entities")
            caption, entities = self._fix_caption(raw, raw_entities)
            extra["caption"] = caption
            if entities:
                extra["caption_entities"] = entities
        digest = hashlib.sha256(photo).hexdigest()[:16]
        extra["photo"] = [
            {
                "file_id": f"photo-{digest}",
                "file_unique_id": digest,
                "width": size[0],
                "height": size[1],
                "file_size": len(photo),
            }
        ]
        thread, _ = self._resolve_thread(chat, p.integer("message_thread_id"), None, allow_missing=True)
        self._rate_check(chat, "sendPhoto")
        msg: Json = self._new_message(chat, self.bot_user, thread_id=thread, extra=extra)
        self._rate_note(chat)
        self.photos[(chat.id, msg["message_id"])] = bytes(photo)
        return dict(msg)

    def _fix_caption(self, text: str, entities: list[Json]) -> tuple[str, list[Json]]:
        from tests.fakes.telegram_api.entities import fix_formatted_text

        text, entities = fix_formatted_text(text, entities)
        if len(text) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        return text, entities
