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

class RequiredActionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REQUIRED_ACTION_TYPE_UNSPECIFIED: _ClassVar[RequiredActionType]
    REQUIRED_ACTION_TYPE_SUBMIT_TOOL_OUTPUTS: _ClassVar[RequiredActionType]

class LastErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LAST_ERROR_CODE_UNSPECIFIED: _ClassVar[LastErrorCode]
    LAST_ERROR_CODE_SERVER_ERROR: _ClassVar[LastErrorCode]
    LAST_ERROR_CODE_RATE_LIMIT_EXCEEDED: _ClassVar[LastErrorCode]

class ToolType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOOL_TYPE_UNSPECIFIED: _ClassVar[ToolType]
    TOOL_TYPE_CODE_INTERPRETER: _ClassVar[ToolType]
    TOOL_TYPE_RETRIEVAL: _ClassVar[ToolType]
    TOOL_TYPE_FUNCTION: _ClassVar[ToolType]

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
RUN_STATUS_UNSPECIFIED: RunStatus
RUN_STATUS_QUEUED: RunStatus
RUN_STATUS_IN_PROGRESS: RunStatus
RUN_STATUS_REQUIRES_ACTION: RunStatus
RUN_STATUS_CANCELLING: RunStatus
RUN_STATUS_CANCELLED: RunStatus
RUN_STATUS_FAILED: RunStatus
RUN_STATUS_COMPLETED: RunStatus
RUN_STATUS_EXPIRED: RunStatus
REQUIRED_ACTION_TYPE_UNSPECIFIED: RequiredActionType
REQUIRED_ACTION_TYPE_SUBMIT_TOOL_OUTPUTS: RequiredActionType
LAST_ERROR_CODE_UNSPECIFIED: LastErrorCode
LAST_ERROR_CODE_SERVER_ERROR: LastErrorCode
LAST_ERROR_CODE_RATE_LIMIT_EXCEEDED: LastErrorCode
TOOL_TYPE_UNSPECIFIED: ToolType
TOOL_TYPE_CODE_INTERPRETER: ToolType
TOOL_TYPE_RETRIEVAL: ToolType
TOOL_TYPE_FUNCTION: ToolType
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

class Run(_message.Message):
    __slots__ = ("id", "object", "created_at", "thread_id", "assistant_id", "status", "required_action", "last_error", "expires_at", "started_at", "cancelled_at", "failed_at", "completed_at", "model", "instructions", "tools", "file_ids", "metadata", "usage")
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
    FILE_IDS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
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
    file_ids: _containers.RepeatedScalarFieldContainer[str]
    metadata: _containers.ScalarMap[str, str]
    usage: Usage
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., created_at: _Optional[int] = ..., thread_id: _Optional[str] = ..., assistant_id: _Optional[str] = ..., status: _Optional[_Union[RunStatus, str]] = ..., required_action: _Optional[_Union[RequiredAction, _Mapping]] = ..., last_error: _Optional[_Union[LastError, _Mapping]] = ..., expires_at: _Optional[int] = ..., started_at: _Optional[int] = ..., cancelled_at: _Optional[int] = ..., failed_at: _Optional[int] = ..., completed_at: _Optional[int] = ..., model: _Optional[str] = ..., instructions: _Optional[str] = ..., tools: _Optional[_Iterable[_Union[Tool, _Mapping]]] = ..., file_ids: _Optional[_Iterable[str]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ...) -> None: ...

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

class Tool(_message.Message):
    __slots__ = ("type", "function")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    type: ToolType
    function: FunctionDefinition
    def __init__(self, type: _Optional[_Union[ToolType, str]] = ..., function: _Optional[_Union[FunctionDefinition, _Mapping]] = ...) -> None: ...

class FunctionDefinition(_message.Message):
    __slots__ = ("name", "description", "parameters", "parameters_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    parameters: _struct_pb2.Struct
    parameters_json: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., parameters_json: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("id", "type", "code_interpreter", "retrieval", "function")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CODE_INTERPRETER_FIELD_NUMBER: _ClassVar[int]
    RETRIEVAL_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: ToolType
    code_interpreter: CodeInterpreterCall
    retrieval: _struct_pb2.Struct
    function: FunctionCall
    def __init__(self, id: _Optional[str] = ..., type: _Optional[_Union[ToolType, str]] = ..., code_interpreter: _Optional[_Union[CodeInterpreterCall, _Mapping]] = ..., retrieval: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., function: _Optional[_Union[FunctionCall, _Mapping]] = ...) -> None: ...

class CodeInterpreterCall(_message.Message):
    __slots__ = ("input", "outputs")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    input: str
    outputs: _containers.RepeatedCompositeFieldContainer[CodeInterpreterOutput]
    def __init__(self, input: _Optional[str] = ..., outputs: _Optional[_Iterable[_Union[CodeInterpreterOutput, _Mapping]]] = ...) -> None: ...

class CodeInterpreterOutput(_message.Message):
    __slots__ = ("type", "logs", "image")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    LOGS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    type: CodeInterpreterOutputType
    logs: str
    image: CodeInterpreterImage
    def __init__(self, type: _Optional[_Union[CodeInterpreterOutputType, str]] = ..., logs: _Optional[str] = ..., image: _Optional[_Union[CodeInterpreterImage, _Mapping]] = ...) -> None: ...

class CodeInterpreterImage(_message.Message):
    __slots__ = ("file_id",)
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    def __init__(self, file_id: _Optional[str] = ...) -> None: ...
