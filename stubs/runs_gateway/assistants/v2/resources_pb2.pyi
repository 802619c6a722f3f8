from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RunStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STATUS_UNSPECIFIED: _ClassVar[RunStatus]
    RUN_STATUS_QUEUED: _ClassVar[RunStatus]
    RUN_STATUS_IN_PROGRESS: _ClassVar[RunStatus]
    RUN_STATUS_REQUIRES_ACTION: _ClassVar[RunStatus]
    RUN_STATUS_CANCELLING: _ClassVar[RunStatus]
    RUN_STATUS_CANCELLED: _ClassVar[RunStatus]
    RUN_STATUS_FAILED: _ClassVar[RunStatus]
    RUN_STATUS_COMPLETED: _ClassVar[RunStatus]
    RUN_STATUS_EXPIRED: _ClassVar[RunStatus]
    RUN_STATUS_INCOMPLETE: _ClassVar[RunStatus]

class IncompleteReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INCOMPLETE_REASON_UNSPECIFIED: _ClassVar[IncompleteReason]
    INCOMPLETE_REASON_MAX_COMPLETION_TOKENS: _ClassVar[IncompleteReason]
    INCOMPLETE_REASON_MAX_PROMPT_TOKENS: _ClassVar[IncompleteReason]

class RequiredActionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REQUIRED_ACTION_TYPE_UNSPECIFIED: _ClassVar[RequiredActionType]
    REQUIRED_ACTION_TYPE_SUBMIT_TOOL_OUTPUTS: _ClassVar[RequiredActionType]

class LastErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LAST_ERROR_CODE_UNSPECIFIED: _ClassVar[LastErrorCode]
    LAST_ERROR_CODE_SERVER_ERROR: _ClassVar[LastErrorCode]
    LAST_ERROR_CODE_RATE_LIMIT_EXCEEDED: _ClassVar[LastErrorCode]
    LAST_ERROR_CODE_INVALID_PROMPT: _ClassVar[LastErrorCode]

class TruncationType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRUNCATION_TYPE_UNSPECIFIED: _ClassVar[TruncationType]
    TRUNCATION_TYPE_AUTO: _ClassVar[TruncationType]
    TRUNCATION_TYPE_LAST_MESSAGES: _ClassVar[TruncationType]

class ToolChoiceMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOOL_CHOICE_MODE_UNSPECIFIED: _ClassVar[ToolChoiceMode]
    TOOL_CHOICE_MODE_NONE: _ClassVar[ToolChoiceMode]
    TOOL_CHOICE_MODE_AUTO: _ClassVar[ToolChoiceMode]
    TOOL_CHOICE_MODE_REQUIRED: _ClassVar[ToolChoiceMode]

class ResponseFormatMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESPONSE_FORMAT_MODE_UNSPECIFIED: _ClassVar[ResponseFormatMode]
    RESPONSE_FORMAT_MODE_AUTO: _ClassVar[ResponseFormatMode]

class ResponseFormatType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESPONSE_FORMAT_TYPE_UNSPECIFIED: _ClassVar[ResponseFormatType]
    RESPONSE_FORMAT_TYPE_TEXT: _ClassVar[ResponseFormatType]
    RESPONSE_FORMAT_TYPE_JSON_OBJECT: _ClassVar[ResponseFormatType]
    RESPONSE_FORMAT_TYPE_JSON_SCHEMA: _ClassVar[ResponseFormatType]

class ToolType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOOL_TYPE_UNSPECIFIED: _ClassVar[ToolType]
    TOOL_TYPE_CODE_INTERPRETER: _ClassVar[ToolType]
    TOOL_TYPE_FUNCTION: _ClassVar[ToolType]
    TOOL_TYPE_FILE_SEARCH: _ClassVar[ToolType]

class FileSearchRanker(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILE_SEARCH_RANKER_UNSPECIFIED: _ClassVar[FileSearchRanker]
    FILE_SEARCH_RANKER_AUTO: _ClassVar[FileSearchRanker]
    FILE_SEARCH_RANKER_DEFAULT_2024_08_21: _ClassVar[FileSearchRanker]

class RunStepType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STEP_TYPE_UNSPECIFIED: _ClassVar[RunStepType]
    RUN_STEP_TYPE_MESSAGE_CREATION: _ClassVar[RunStepType]
    RUN_STEP_TYPE_TOOL_CALLS: _ClassVar[RunStepType]

class RunStepStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STEP_STATUS_UNSPECIFIED: _ClassVar[RunStepStatus]
    RUN_STEP_STATUS_IN_PROGRESS: _ClassVar[RunStepStatus]
    RUN_STEP_STATUS_CANCELLED: _ClassVar[RunStepStatus]
    RUN_STEP_STATUS_FAILED: _ClassVar[RunStepStatus]
    RUN_STEP_STATUS_COMPLETED: _ClassVar[RunStepStatus]
    RUN_STEP_STATUS_EXPIRED: _ClassVar[RunStepStatus]

class CodeInterpreterOutputType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CODE_INTERPRETER_OUTPUT_TYPE_UNSPECIFIED: _ClassVar[CodeInterpreterOutputType]
    CODE_INTERPRETER_OUTPUT_TYPE_LOGS: _ClassVar[CodeInterpreterOutputType]
    CODE_INTERPRETER_OUTPUT_TYPE_IMAGE: _ClassVar[CodeInterpreterOutputType]

class FileSearchContentType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILE_SEARCH_CONTENT_TYPE_UNSPECIFIED: _ClassVar[FileSearchContentType]
    FILE_SEARCH_CONTENT_TYPE_TEXT: _ClassVar[FileSearchContentType]

class MessageStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESSAGE_STATUS_UNSPECIFIED: _ClassVar[MessageStatus]
    MESSAGE_STATUS_IN_PROGRESS: _ClassVar[MessageStatus]
    MESSAGE_STATUS_INCOMPLETE: _ClassVar[MessageStatus]
    MESSAGE_STATUS_COMPLETED: _ClassVar[MessageStatus]

class MessageIncompleteReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESSAGE_INCOMPLETE_REASON_UNSPECIFIED: _ClassVar[MessageIncompleteReason]
    MESSAGE_INCOMPLETE_REASON_CONTENT_FILTER: _ClassVar[MessageIncompleteReason]
    MESSAGE_INCOMPLETE_REASON_MAX_TOKENS: _ClassVar[MessageIncompleteReason]
    MESSAGE_INCOMPLETE_REASON_RUN_CANCELLED: _ClassVar[MessageIncompleteReason]
    MESSAGE_INCOMPLETE_REASON_RUN_EXPIRED: _ClassVar[MessageIncompleteReason]
    MESSAGE_INCOMPLETE_REASON_RUN_FAILED: _ClassVar[MessageIncompleteReason]

class MessageRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESSAGE_ROLE_UNSPECIFIED: _ClassVar[MessageRole]
    MESSAGE_ROLE_USER: _ClassVar[MessageRole]
    MESSAGE_ROLE_ASSISTANT: _ClassVar[MessageRole]

class MessageContentType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESSAGE_CONTENT_TYPE_UNSPECIFIED: _ClassVar[MessageContentType]
    MESSAGE_CONTENT_TYPE_IMAGE_FILE: _ClassVar[MessageContentType]
    MESSAGE_CONTENT_TYPE_IMAGE_URL: _ClassVar[MessageContentType]
    MESSAGE_CONTENT_TYPE_TEXT: _ClassVar[MessageContentType]
    MESSAGE_CONTENT_TYPE_REFUSAL: _ClassVar[MessageContentType]

class ImageDetail(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMAGE_DETAIL_UNSPECIFIED: _ClassVar[ImageDetail]
    IMAGE_DETAIL_AUTO: _ClassVar[ImageDetail]
    IMAGE_DETAIL_LOW: _ClassVar[ImageDetail]
    IMAGE_DETAIL_HIGH: _ClassVar[ImageDetail]

class AnnotationType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANNOTATION_TYPE_UNSPECIFIED: _ClassVar[AnnotationType]
    ANNOTATION_TYPE_FILE_CITATION: _ClassVar[AnnotationType]
    ANNOTATION_TYPE_FILE_PATH: _ClassVar[AnnotationType]
RUN_STATUS_UNSPECIFIED: RunStatus
RUN_STATUS_QUEUED: RunStatus
RUN_STATUS_IN_PROGRESS: RunStatus
RUN_STATUS_REQUIRES_ACTION: RunStatus
RUN_STATUS_CANCELLING: RunStatus
RUN_STATUS_CANCELLED: RunStatus
RUN_STATUS_FAILED: RunStatus
RUN_STATUS_COMPLETED: RunStatus
RUN_STATUS_EXPIRED: RunStatus
RUN_STATUS_INCOMPLETE: RunStatus
INCOMPLETE_REASON_UNSPECIFIED: IncompleteReason
INCOMPLETE_REASON_MAX_COMPLETION_TOKENS: IncompleteReason
INCOMPLETE_REASON_MAX_PROMPT_TOKENS: IncompleteReason
REQUIRED_ACTION_TYPE_UNSPECIFIED: RequiredActionType
REQUIRED_ACTION_TYPE_SUBMIT_TOOL_OUTPUTS: RequiredActionType
LAST_ERROR_CODE_UNSPECIFIED: LastErrorCode
LAST_ERROR_CODE_SERVER_ERROR: LastErrorCode
LAST_ERROR_CODE_RATE_LIMIT_EXCEEDED: LastErrorCode
LAST_ERROR_CODE_INVALID_PROMPT: LastErrorCode
TRUNCATION_TYPE_UNSPECIFIED: TruncationType
TRUNCATION_TYPE_AUTO: TruncationType
TRUNCATION_TYPE_LAST_MESSAGES: TruncationType
TOOL_CHOICE_MODE_UNSPECIFIED: ToolChoiceMode
TOOL_CHOICE_MODE_NONE: ToolChoiceMode
TOOL_CHOICE_MODE_AUTO: ToolChoiceMode
TOOL_CHOICE_MODE_REQUIRED: ToolChoiceMode
RESPONSE_FORMAT_MODE_UNSPECIFIED: ResponseFormatMode
RESPONSE_FORMAT_MODE_AUTO: ResponseFormatMode
RESPONSE_FORMAT_TYPE_UNSPECIFIED: ResponseFormatType
RESPONSE_FORMAT_TYPE_TEXT: ResponseFormatType
RESPONSE_FORMAT_TYPE_JSON_OBJECT: ResponseFormatType
RESPONSE_FORMAT_TYPE_JSON_SCHEMA: ResponseFormatType
TOOL_TYPE_UNSPECIFIED: ToolType
TOOL_TYPE_CODE_INTERPRETER: ToolType
TOOL_TYPE_FUNCTION: ToolType
TOOL_TYPE_FILE_SEARCH: ToolType
FILE_SEARCH_RANKER_UNSPECIFIED: FileSearchRanker
FILE_SEARCH_RANKER_AUTO: FileSearchRanker
FILE_SEARCH_RANKER_DEFAULT_2024_08_21: FileSearchRanker
RUN_STEP_TYPE_UNSPECIFIED: RunStepType
RUN_STEP_TYPE_MESSAGE_CREATION: RunStepType
RUN_STEP_TYPE_TOOL_CALLS: RunStepType
RUN_STEP_STATUS_UNSPECIFIED: RunStepStatus
RUN_STEP_STATUS_IN_PROGRESS: RunStepStatus
RUN_STEP_STATUS_CANCELLED: RunStepStatus
RUN_STEP_STATUS_FAILED: RunStepStatus
RUN_STEP_STATUS_COMPLETED: RunStepStatus
RUN_STEP_STATUS_EXPIRED: RunStepStatus
CODE_INTERPRETER_OUTPUT_TYPE_UNSPECIFIED: CodeInterpreterOutputType
CODE_INTERPRETER_OUTPUT_TYPE_LOGS: CodeInterpreterOutputType
CODE_INTERPRETER_OUTPUT_TYPE_IMAGE: CodeInterpreterOutputType
FILE_SEARCH_CONTENT_TYPE_UNSPECIFIED: FileSearchContentType
FILE_SEARCH_CONTENT_TYPE_TEXT: FileSearchContentType
MESSAGE_STATUS_UNSPECIFIED: MessageStatus
MESSAGE_STATUS_IN_PROGRESS: MessageStatus
MESSAGE_STATUS_INCOMPLETE: MessageStatus
MESSAGE_STATUS_COMPLETED: MessageStatus
MESSAGE_INCOMPLETE_REASON_UNSPECIFIED: MessageIncompleteReason
MESSAGE_INCOMPLETE_REASON_CONTENT_FILTER: MessageIncompleteReason
MESSAGE_INCOMPLETE_REASON_MAX_TOKENS: MessageIncompleteReason
MESSAGE_INCOMPLETE_REASON_RUN_CANCELLED: MessageIncompleteReason
MESSAGE_INCOMPLETE_REASON_RUN_EXPIRED: MessageIncompleteReason
MESSAGE_INCOMPLETE_REASON_RUN_FAILED: MessageIncompleteReason
MESSAGE_ROLE_UNSPECIFIED: MessageRole
MESSAGE_ROLE_USER: MessageRole
MESSAGE_ROLE_ASSISTANT: MessageRole
MESSAGE_CONTENT_TYPE_UNSPECIFIED: MessageContentType
MESSAGE_CONTENT_TYPE_IMAGE_FILE: MessageContentType
MESSAGE_CONTENT_TYPE_IMAGE_URL: MessageContentType
MESSAGE_CONTENT_TYPE_TEXT: MessageContentType
MESSAGE_CONTENT_TYPE_REFUSAL: MessageContentType
IMAGE_DETAIL_UNSPECIFIED: ImageDetail
IMAGE_DETAIL_AUTO: ImageDetail
IMAGE_DETAIL_LOW: ImageDetail
IMAGE_DETAIL_HIGH: ImageDetail
ANNOTATION_TYPE_UNSPECIFIED: AnnotationType
ANNOTATION_TYPE_FILE_CITATION: AnnotationType
ANNOTATION_TYPE_FILE_PATH: AnnotationType

class Run(_message.Message):
    __slots__ = ("id", "object", "created_at", "thread_id", "assistant_id", "status", "required_action", "last_error", "expires_at", "started_at", "cancelled_at", "failed_at", "completed_at", "model", "instructions", "tools", "metadata", "usage", "incomplete_details", "temperature", "top_p", "max_prompt_tokens", "max_completion_tokens", "truncation_strategy", "tool_choice", "parallel_tool_calls", "response_format")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    ASSISTANT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_ACTION_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_AT_FIELD_NUMBER: _ClassVar[int]
    FAILED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    INCOMPLETE_DETAILS_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    MAX_PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    TOOL_CHOICE_FIELD_NUMBER: _ClassVar[int]
    PARALLEL_TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    created_at: int
    thread_id: str
    assistant_id: str
    status: RunStatus
    required_action: RequiredAction
    last_error: LastError
    expires_at: int
    started_at: int
    cancelled_at: int
    failed_at: int
    completed_at: int
    model: str
    instructions: str
    tools: _containers.RepeatedCompositeFieldContainer[Tool]
    metadata: _containers.ScalarMap[str, str]
    usage: Usage
    incomplete_details: IncompleteDetails
    temperature: float
    top_p: float
    max_prompt_tokens: int
    max_completion_tokens: int
    truncation_strategy: TruncationStrategy
    tool_choice: ToolChoice
    parallel_tool_calls: bool
    response_format: ResponseFormat
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., created_at: _Optional[int] = ..., thread_id: _Optional[str] = ..., assistant_id: _Optional[str] = ..., status: _Optional[_Union[RunStatus, str]] = ..., required_action: _Optional[_Union[RequiredAction, _Mapping]] = ..., last_error: _Optional[_Union[LastError, _Mapping]] = ..., expires_at: _Optional[int] = ..., started_at: _Optional[int] = ..., cancelled_at: _Optional[int] = ..., failed_at: _Optional[int] = ..., completed_at: _Optional[int] = ..., model: _Optional[str] = ..., instructions: _Optional[str] = ..., tools: _Optional[_Iterable[_Union[Tool, _Mapping]]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., incomplete_details: _Optional[_Union[IncompleteDetails, _Mapping]] = ..., temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., max_prompt_tokens: _Optional[int] = ..., max_completion_tokens: _Optional[int] = ..., truncation_strategy: _Optional[_Union[TruncationStrategy, _Mapping]] = ..., tool_choice: _Optional[_Union[ToolChoice, _Mapping]] = ..., parallel_tool_calls: _Optional[bool] = ..., response_format: _Optional[_Union[ResponseFormat, _Mapping]] = ...) -> None: ...

class IncompleteDetails(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: IncompleteReason
    def __init__(self, reason: _Optional[_Union[IncompleteReason, str]] = ...) -> None: ...

class RequiredAction(_message.Message):
    __slots__ = ("type", "submit_tool_outputs")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_TOOL_OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    type: RequiredActionType
    submit_tool_outputs: SubmitToolOutputsAction
    def __init__(self, type: _Optional[_Union[RequiredActionType, str]] = ..., submit_tool_outputs: _Optional[_Union[SubmitToolOutputsAction, _Mapping]] = ...) -> None: ...

class SubmitToolOutputsAction(_message.Message):
    __slots__ = ("tool_calls",)
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    tool_calls: _containers.RepeatedCompositeFieldContainer[RequiredToolCall]
    def __init__(self, tool_calls: _Optional[_Iterable[_Union[RequiredToolCall, _Mapping]]] = ...) -> None: ...

class RequiredToolCall(_message.Message):
    __slots__ = ("id", "type", "function")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: ToolType
    function: FunctionCall
    def __init__(self, id: _Optional[str] = ..., type: _Optional[_Union[ToolType, str]] = ..., function: _Optional[_Union[FunctionCall, _Mapping]] = ...) -> None: ...

class LastError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: LastErrorCode
    message: str
    def __init__(self, code: _Optional[_Union[LastErrorCode, str]] = ..., message: _Optional[str] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("completion_tokens", "prompt_tokens", "total_tokens")
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    completion_tokens: int
    prompt_tokens: int
    total_tokens: int
    def __init__(self, completion_tokens: _Optional[int] = ..., prompt_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ...) -> None: ...

class TruncationStrategy(_message.Message):
    __slots__ = ("type", "last_messages")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    LAST_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    type: TruncationType
    last_messages: int
    def __init__(self, type: _Optional[_Union[TruncationType, str]] = ..., last_messages: _Optional[int] = ...) -> None: ...

class ToolChoice(_message.Message):
    __slots__ = ("mode", "tool")
    MODE_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    mode: ToolChoiceMode
    tool: NamedToolChoice
    def __init__(self, mode: _Optional[_Union[ToolChoiceMode, str]] = ..., tool: _Optional[_Union[NamedToolChoice, _Mapping]] = ...) -> None: ...

class NamedToolChoice(_message.Message):
    __slots__ = ("type", "function")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    type: ToolType
    function: FunctionName
    def __init__(self, type: _Optional[_Union[ToolType, str]] = ..., function: _Optional[_Union[FunctionName, _Mapping]] = ...) -> None: ...

class FunctionName(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ResponseFormat(_message.Message):
    __slots__ = ("mode", "object")
    MODE_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    mode: ResponseFormatMode
    object: ResponseFormatObject
    def __init__(self, mode: _Optional[_Union[ResponseFormatMode, str]] = ..., object: _Optional[_Union[ResponseFormatObject, _Mapping]] = ...) -> None: ...

class ResponseFormatObject(_message.Message):
    __slots__ = ("type", "json_schema")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    JSON_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    type: ResponseFormatType
    json_schema: JsonSchemaFormat
    def __init__(self, type: _Optional[_Union[ResponseFormatType, str]] = ..., json_schema: _Optional[_Union[JsonSchemaFormat, _Mapping]] = ...) -> None: ...

class JsonSchemaFormat(_message.Message):
    __slots__ = ("name", "description", "schema", "schema_json", "strict")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_JSON_FIELD_NUMBER: _ClassVar[int]
    STRICT_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    schema: _struct_pb2.Struct
    schema_json: str
    strict: bool
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., schema_json: _Optional[str] = ..., strict: _Optional[bool] = ...) -> None: ...

class Tool(_message.Message):
    __slots__ = ("type", "function", "file_search")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    FILE_SEARCH_FIELD_NUMBER: _ClassVar[int]
    type: ToolType
    function: FunctionDefinition
    file_search: FileSearchOptions
    def __init__(self, type: _Optional[_Union[ToolType, str]] = ..., function: _Optional[_Union[FunctionDefinition, _Mapping]] = ..., file_search: _Optional[_Union[FileSearchOptions, _Mapping]] = ...) -> None: ...

class FunctionDefinition(_message.Message):
    __slots__ = ("name", "description", "parameters", "parameters_json", "strict")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_JSON_FIELD_NUMBER: _ClassVar[int]
    STRICT_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    parameters: _struct_pb2.Struct
    parameters_json: str
    strict: bool
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., parameters_json: _Optional[str] = ..., strict: _Optional[bool] = ...) -> None: ...

class FileSearchOptions(_message.Message):
    __slots__ = ("max_num_results", "ranking_options")
    MAX_NUM_RESULTS_FIELD_NUMBER: _ClassVar[int]
    RANKING_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    max_num_results: int
    ranking_options: FileSearchRankingOptions
    def __init__(self, max_num_results: _Optional[int] = ..., ranking_options: _Optional[_Union[FileSearchRankingOptions, _Mapping]] = ...) -> None: ...

class FileSearchRankingOptions(_message.Message):
    __slots__ = ("ranker", "score_threshold")
    RANKER_FIELD_NUMBER: _ClassVar[int]
    SCORE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ranker: FileSearchRanker
    score_threshold: float
    def __init__(self, ranker: _Optional[_Union[FileSearchRanker, str]] = ..., score_threshold: _Optional[float] = ...) -> None: ...

class FunctionCall(_message.Message):
    __slots__ = ("name", "arguments", "output")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    name: str
    arguments: str
    output: str
    def __init__(self, name: _Optional[str] = ..., arguments: _Optional[str] = ..., output: _Optional[str] = ...) -> None: ...

class RunStep(_message.Message):
    __slots__ = ("id", "object", "created_at", "assistant_id", "thread_id", "run_id", "type", "status", "step_details", "last_error", "expired_at", "cancelled_at", "failed_at", "completed_at", "metadata", "usage")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ASSISTANT_ID_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STEP_DETAILS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_AT_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_AT_FIELD_NUMBER: _ClassVar[int]
    FAILED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    created_at: int
    assistant_id: str
    thread_id: str
    run_id: str
    type: RunStepType
    status: RunStepStatus
    step_details: StepDetails
    last_error: LastError
    expired_at: int
    cancelled_at: int
    failed_at: int
    completed_at: int
    metadata: _containers.ScalarMap[str, str]
    usage: Usage
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., created_at: _Optional[int] = ..., assistant_id: _Optional[str] = ..., thread_id: _Optional[str] = ..., run_id: _Optional[str] = ..., type: _Optional[_Union[RunStepType, str]] = ..., status: _Optional[_Union[RunStepStatus, str]] = ..., step_details: _Optional[_Union[StepDetails, _Mapping]] = ..., last_error: _Optional[_Union[LastError, _Mapping]] = ..., expired_at: _Optional[int] = ..., cancelled_at: _Optional[int] = ..., failed_at: _Optional[int] = ..., completed_at: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ...) -> None: ...

class StepDetails(_message.Message):
    __slots__ = ("type", "message_creation", "tool_calls")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_CREATION_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    type: RunStepType
    message_creation: MessageCreation
    tool_calls: _containers.RepeatedCompositeFieldContainer[ToolCall]
    def __init__(self, type: _Optional[_Union[RunStepType, str]] = ..., message_creation: _Optional[_Union[MessageCreation, _Mapping]] = ..., tool_calls: _Optional[_Iterable[_Union[ToolCall, _Mapping]]] = ...) -> None: ...

class MessageCreation(_message.Message):
    __slots__ = ("message_id",)
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    def __init__(self, message_id: _Optional[str] = ...) -> None: ...

class ToolCall(_message.Message):
    __slots__ = ("id", "type", "code_interpreter", "function", "file_search", "index")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CODE_INTERPRETER_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    FILE_SEARCH_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: ToolType
    code_interpreter: CodeInterpreterCall
    function: FunctionCall
    file_search: FileSearchCall
    index: int
    def __init__(self, id: _Optional[str] = ..., type: _Optional[_Union[ToolType, str]] = ..., code_interpreter: _Optional[_Union[CodeInterpreterCall, _Mapping]] = ..., function: _Optional[_Union[FunctionCall, _Mapping]] = ..., file_search: _Optional[_Union[FileSearchCall, _Mapping]] = ..., index: _Optional[int] = ...) -> None: ...

class CodeInterpreterCall(_message.Message):
    __slots__ = ("input", "outputs")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    input: str
    outputs: _containers.RepeatedCompositeFieldContainer[CodeInterpreterOutput]
    def __init__(self, input: _Optional[str] = ..., outputs: _Optional[_Iterable[_Union[CodeInterpreterOutput, _Mapping]]] = ...) -> None: ...

class CodeInterpreterOutput(_message.Message):
    __slots__ = ("type", "logs", "image", "index")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    LOGS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    type: CodeInterpreterOutputType
    logs: str
    image: CodeInterpreterImage
    index: int
    def __init__(self, type: _Optional[_Union[CodeInterpreterOutputType, str]] = ..., logs: _Optional[str] = ..., image: _Optional[_Union[CodeInterpreterImage, _Mapping]] = ..., index: _Optional[int] = ...) -> None: ...

class CodeInterpreterImage(_message.Message):
    __slots__ = ("file_id",)
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    def __init__(self, file_id: _Optional[str] = ...) -> None: ...

class FileSearchCall(_message.Message):
    __slots__ = ("ranking_options", "results")
    RANKING_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ranking_options: FileSearchRankingOptions
    results: _containers.RepeatedCompositeFieldContainer[FileSearchResult]
    def __init__(self, ranking_options: _Optional[_Union[FileSearchRankingOptions, _Mapping]] = ..., results: _Optional[_Iterable[_Union[FileSearchResult, _Mapping]]] = ...) -> None: ...

class FileSearchResult(_message.Message):
    __slots__ = ("file_id", "file_name", "score", "content")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    file_name: str
    score: float
    content: _containers.RepeatedCompositeFieldContainer[FileSearchResultContent]
    def __init__(self, file_id: _Optional[str] = ..., file_name: _Optional[str] = ..., score: _Optional[float] = ..., content: _Optional[_Iterable[_Union[FileSearchResultContent, _Mapping]]] = ...) -> None: ...

class FileSearchResultContent(_message.Message):
    __slots__ = ("type", "text")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    type: FileSearchContentType
    text: str
    def __init__(self, type: _Optional[_Union[FileSearchContentType, str]] = ..., text: _Optional[str] = ...) -> None: ...

class Message(_message.Message):
    __slots__ = ("id", "object", "created_at", "thread_id", "status", "incomplete_details", "completed_at", "incomplete_at", "role", "content", "assistant_id", "run_id", "attachments", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    INCOMPLETE_DETAILS_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    INCOMPLETE_AT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    ASSISTANT_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    created_at: int
    thread_id: str
    status: MessageStatus
    incomplete_details: MessageIncompleteDetails
    completed_at: int
    incomplete_at: int
    role: MessageRole
    content: _containers.RepeatedCompositeFieldContainer[MessageContent]
    assistant_id: str
    run_id: str
    attachments: _containers.RepeatedCompositeFieldContainer[Attachment]
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., created_at: _Optional[int] = ..., thread_id: _Optional[str] = ..., status: _Optional[_Union[MessageStatus, str]] = ..., incomplete_details: _Optional[_Union[MessageIncompleteDetails, _Mapping]] = ..., completed_at: _Optional[int] = ..., incomplete_at: _Optional[int] = ..., role: _Optional[_Union[MessageRole, str]] = ..., content: _Optional[_Iterable[_Union[MessageContent, _Mapping]]] = ..., assistant_id: _Optional[str] = ..., run_id: _Optional[str] = ..., attachments: _Optional[_Iterable[_Union[Attachment, _Mapping]]] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class MessageIncompleteDetails(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: MessageIncompleteReason
    def __init__(self, reason: _Optional[_Union[MessageIncompleteReason, str]] = ...) -> None: ...

class MessageContent(_message.Message):
    __slots__ = ("type", "image_file", "image_url", "text", "refusal", "index")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FILE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_URL_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    type: MessageContentType
    image_file: ImageFile
    image_url: ImageUrl
    text: Text
    refusal: str
    index: int
    def __init__(self, type: _Optional[_Union[MessageContentType, str]] = ..., image_file: _Optional[_Union[ImageFile, _Mapping]] = ..., image_url: _Optional[_Union[ImageUrl, _Mapping]] = ..., text: _Optional[_Union[Text, _Mapping]] = ..., refusal: _Optional[str] = ..., index: _Optional[int] = ...) -> None: ...

class ImageFile(_message.Message):
    __slots__ = ("file_id", "detail")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    detail: ImageDetail
    def __init__(self, file_id: _Optional[str] = ..., detail: _Optional[_Union[ImageDetail, str]] = ...) -> None: ...

class ImageUrl(_message.Message):
    __slots__ = ("url", "detail")
    URL_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    url: str
    detail: ImageDetail
    def __init__(self, url: _Optional[str] = ..., detail: _Optional[_Union[ImageDetail, str]] = ...) -> None: ...

class Text(_message.Message):
    __slots__ = ("value", "annotations")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    value: str
    annotations: _containers.RepeatedCompositeFieldContainer[Annotation]
    def __init__(self, value: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[Annotation, _Mapping]]] = ...) -> None: ...

class Annotation(_message.Message):
    __slots__ = ("type", "text", "file_citation", "file_path", "start_index", "end_index", "index")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FILE_CITATION_FIELD_NUMBER: _ClassVar[int]
    FILE_PATH_FIELD_NUMBER: _ClassVar[int]
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    END_INDEX_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    type: AnnotationType
    text: str
    file_citation: FileCitation
    file_path: FilePath
    start_index: int
    end_index: int
    index: int
    def __init__(self, type: _Optional[_Union[AnnotationType, str]] = ..., text: _Optional[str] = ..., file_citation: _Optional[_Union[FileCitation, _Mapping]] = ..., file_path: _Optional[_Union[FilePath, _Mapping]] = ..., start_index: _Optional[int] = ..., end_index: _Optional[int] = ..., index: _Optional[int] = ...) -> None: ...

class FileCitation(_message.Message):
    __slots__ = ("file_id", "quote")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    quote: str
    def __init__(self, file_id: _Optional[str] = ..., quote: _Optional[str] = ...) -> None: ...

class FilePath(_message.Message):
    __slots__ = ("file_id",)
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    def __init__(self, file_id: _Optional[str] = ...) -> None: ...

class Attachment(_message.Message):
    __slots__ = ("file_id", "tools")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    tools: _containers.RepeatedCompositeFieldContainer[Tool]
    def __init__(self, file_id: _Optional[str] = ..., tools: _Optional[_Iterable[_Union[Tool, _Mapping]]] = ...) -> None: ...

class MessageDelta(_message.Message):
    __slots__ = ("id", "object", "delta")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    delta: MessageDeltaFields
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., delta: _Optional[_Union[MessageDeltaFields, _Mapping]] = ...) -> None: ...

class MessageDeltaFields(_message.Message):
    __slots__ = ("role", "content")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    role: MessageRole
    content: _containers.RepeatedCompositeFieldContainer[MessageContent]
    def __init__(self, role: _Optional[_Union[MessageRole, str]] = ..., content: _Optional[_Iterable[_Union[MessageContent, _Mapping]]] = ...) -> None: ...

class RunStepDelta(_message.Message):
    __slots__ = ("id", "object", "delta")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    delta: RunStepDeltaFields
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., delta: _Optional[_Union[RunStepDeltaFields, _Mapping]] = ...) -> None: ...

class RunStepDeltaFields(_message.Message):
    __slots__ = ("step_details",)
    STEP_DETAILS_FIELD_NUMBER: _ClassVar[int]
    step_details: StepDetails
    def __init__(self, step_details: _Optional[_Union[StepDetails, _Mapping]] = ...) -> None: ...
