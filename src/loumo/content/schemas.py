"""Request and response bodies of the FAQ and settings APIs.

Texts are bilingual like the catalog's: `*_fr` (the default language, required) and `*_en`
(optional; empty means a client shows the French text). Every read carries both languages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, JsonValue, StringConstraints

from loumo.core.schemas import Id, Input, PatchInput, Read, Slug, clean_multiline, clean_text

Title = Annotated[str, StringConstraints(max_length=200), AfterValidator(clean_text)]
TitleEn = Annotated[str, StringConstraints(max_length=200), AfterValidator(clean_multiline)]
Question = Annotated[str, StringConstraints(max_length=500), AfterValidator(clean_text)]
QuestionEn = Annotated[str, StringConstraints(max_length=500), AfterValidator(clean_multiline)]
Answer = Annotated[str, StringConstraints(max_length=10_000), AfterValidator(clean_text)]
AnswerEn = Annotated[str, StringConstraints(max_length=10_000), AfterValidator(clean_multiline)]
Position = Annotated[int, Field(ge=0, le=1_000_000, description="Lower first; ties by id")]


class FaqTopicCreate(Input):
    slug: Slug
    title_fr: Title
    title_en: TitleEn = ""
    position: Position = 0
    is_published: bool = False


class FaqTopicUpdate(PatchInput):
    patch_of = FaqTopicCreate


class FaqTopicRead(Read):
    id: str
    slug: str
    title_fr: str
    title_en: str
    position: int
    is_published: bool
    created_at: datetime
    updated_at: datetime


class FaqEntryCreate(Input):
    topic_id: Id
    question_fr: Question
    question_en: QuestionEn = ""
    answer_fr: Answer
    answer_en: AnswerEn = ""
    position: Position = 0
    is_published: bool = False


class FaqEntryUpdate(PatchInput):
    """Fields to change; `topic_id` moves the entry to another topic."""

    patch_of = FaqEntryCreate


class FaqEntryRead(Read):
    id: str
    topic_id: str
    question_fr: str
    question_en: str
    answer_fr: str
    answer_en: str
    position: int
    is_published: bool
    created_at: datetime
    updated_at: datetime


class SettingRead(BaseModel):
    """A known setting and its value now: the stored one, else the environment default."""

    key: str
    section: str
    type: str = Field(description="int, decimal, bool, string, duration or money")
    description: str
    public: bool = Field(description="Whether anyone may read it (else `settings:read`)")
    value: JsonValue = Field(description="The value in effect, in the JSON form of its type")
    default: JsonValue = Field(description="The environment default, used when none is stored")
    is_default: bool = Field(description="True when no value is stored (the default applies)")
    updated_at: datetime | None = Field(description="When staff last stored a value")


class SettingWrite(Input):
    value: Any = Field(
        description="The new value, in the JSON form of the setting's type (see `type`)"
    )
