from runs_gateway.assistants.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListOrder(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LIST_ORDER_UNSPECIFIED: _ClassVar[ListOrder]
    LIST_ORDER_ASC: _ClassVar[ListOrder]
    LIST_ORDER_DESC: _ClassVar[ListOrder]
LIST_ORDER_UNSPECIFIED: ListOrder
LIST_ORDER_ASC: ListOrder
LIST_ORDER_DESC: ListOrder

class CreateRunRequest(_message.Message):
    __slots__ = ("thread_id", "assistant_id", "model", "instructions", "additional_instructions", "tools", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    ASSISTANT_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    ADDITIONAL_INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    thread_id: str
    assistant_id: str
    model: str
    instructions: str
    additional_instructions: str
    tools: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Tool]
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, thread_id: _Optional[str] = ..., assistant_id: _Optional[str] = ..., model: _Optional[str] = ..., instructions: _Optional[str] = ..., additional_instructions: _Optional[str] = ..., tools: _Optional[_Iterable[_Union[_resources_pb2.Tool, _Mapping]]] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CreateRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _resources_pb2.Run
    def __init__(self, run: _Optional[_Union[_resources_pb2.Run, _Mapping]] = ...) -> None: ...

class GetRunRequest(_message.Message):
    __slots__ = ("thread_id", "run_id")
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    thread_id: str
    run_id: str
    def __init__(self, thread_id: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class GetRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _resources_pb2.Run
    def __init__(self, run: _Optional[_Union[_resources_pb2.Run, _Mapping]] = ...) -> None: ...

class ModifyRunRequest(_message.Message):
    __slots__ = ("thread_id", "run_id", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    thread_id: str
    run_id: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, thread_id: _Optional[str] = ..., run_id: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ModifyRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _resources_pb2.Run
    def __init__(self, run: _Optional[_Union[_resources_pb2.Run, _Mapping]] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ("thread_id", "limit", "order", "after", "before")
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    thread_id: str
    limit: int
    order: ListOrder
    after: str
    before: str
    def __init__(self, thread_id: _Optional[str] = ..., limit: _Optional[int] = ..., order: _Optional[_Union[ListOrder, str]] = ..., after: _Optional[str] = ..., before: _Optional[str] = ...) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ("runs",)
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Run]
    def __init__(self, runs: _Optional[_Iterable[_Union[_resources_pb2.Run, _Mapping]]] = ...) -> None: ...

class ListRunsPageRequest(_message.Message):
    __slots__ = ("thread_id", "limit", "order", "after", "before")
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    thread_id: str
    limit: int
    order: ListOrder
    after: str
    before: str
    def __init__(self, thread_id: _Optional[str] = ..., limit: _Optional[int] = ..., order: _Optional[_Union[ListOrder, str]] = ..., after: _Optional[str] = ..., before: _Optional[str] = ...) -> None: ...

class ListRunsPageResponse(_message.Message):
    __slots__ = ("data", "first_id", "last_id", "has_more")
    DATA_FIELD_NUMBER: _ClassVar[int]
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Run]
    first_id: str
    last_id: str
    has_more: bool
    def __init__(self, data: _Optional[_Iterable[_Union[_resources_pb2.Run, _Mapping]]] = ..., first_id: _Optional[str] = ..., last_id: _Optional[str] = ..., has_more: _Optional[bool] = ...) -> None: ...

class CancelRunRequest(_message.Message):
    __slots__ = ("thread_id", "run_id")
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    thread_id: str
    run_id: str
    def __init__(self, thread_id: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class CancelRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _resources_pb2.Run
    def __init__(self, run: _Optional[_Union[_resources_pb2.Run, _Mapping]] = ...) -> None: ...

class SubmitToolOutputsRequest(_message.Message):
    __slots__ = ("thread_id", "run_id", "tool_outputs")
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    thread_id: str
    run_id: str
    tool_outputs: _containers.RepeatedCompositeFieldContainer[ToolOutput]
    def __init__(self, thread_id: _Optional[str] = ..., run_id: _Optional[str] = ..., tool_outputs: _Optional[_Iterable[_Union[ToolOutput, _Mapping]]] = ...) -> None: ...

class ToolOutput(_message.Message):
    __slots__ = ("tool_call_id", "output")
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    tool_call_id: str
    output: str
    def __init__(self, tool_call_id: _Optional[str] = ..., output: _Optional[str] = ...) -> None: ...

class SubmitToolOutputsResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _resources_pb2.Run
    def __init__(self, run: _Optional[_Union[_resources_pb2.Run, _Mapping]] = ...) -> None: ...

class GetRunStepRequest(_message.Message):
    __slots__ = ("thread_id", "run_id", "step_id")
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    thread_id: str
    run_id: str
    step_id: str
    def __init__(self, thread_id: _Optional[str] = ..., run_id: _Optional[str] = ..., step_id: _Optional[str] = ...) -> None: ...

class GetRunStepResponse(_message.Message):
    __slots__ = ("run_step",)
    RUN_STEP_FIELD_NUMBER: _ClassVar[int]
    run_step: _resources_pb2.RunStep
    def __init__(self, run_step: _Optional[_Union[_resources_pb2.RunStep, _Mapping]] = ...) -> None: ...

class ListRunStepsRequest(_message.Message):
    __slots__ = ("thread_id", "run_id", "limit", "order", "after", "before")
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    thread_id: str
    run_id: str
    limit: int
    order: ListOrder
    after: str
    before: str
    def __init__(self, thread_id: _Optional[str] = ..., run_id: _Optional[str] = ..., limit: _Optional[int] = ..., order: _Optional[_Union[ListOrder, str]] = ..., after: _Optional[str] = ..., before: _Optional[str] = ...) -> None: ...

class ListRunStepsResponse(_message.Message):
    __slots__ = ("run_steps",)
    RUN_STEPS_FIELD_NUMBER: _ClassVar[int]
    run_steps: _containers.RepeatedCompositeFieldContainer[_resources_pb2.RunStep]
    def __init__(self, run_steps: _Optional[_Iterable[_Union[_resources_pb2.RunStep, _Mapping]]] = ...) -> None: ...

class ListRunStepsPageRequest(_message.Message):
    __slots__ = ("thread_id", "run_id", "limit", "order", "after", "before")
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    thread_id: str
    run_id: str
    limit: int
    order: ListOrder
    after: str
    before: str
    def __init__(self, thread_id: _Optional[str] = ..., run_id: _Optional[str] = ..., limit: _Optional[int] = ..., order: _Optional[_Union[ListOrder, str]] = ..., after: _Optional[str] = ..., before: _Optional[str] = ...) -> None: ...

class ListRunStepsPageResponse(_message.Message):
    __slots__ = ("data", "first_id", "last_id", "has_more")
    DATA_FIELD_NUMBER: _ClassVar[int]
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[_resources_pb2.RunStep]
    first_id: str
    last_id: str
    has_more: bool
    def __init__(self, data: _Optional[_Iterable[_Union[_resources_pb2.RunStep, _Mapping]]] = ..., first_id: _Optional[str] = ..., last_id: _Optional[str] = ..., has_more: _Optional[bool] = ...) -> None: ...

class WatchRunRequest(_message.Message):
    __slots__ = ("thread_id", "run_id", "include_steps")
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_STEPS_FIELD_NUMBER: _ClassVar[int]
    thread_id: str
    run_id: str
    include_steps: bool
    def __init__(self, thread_id: _Optional[str] = ..., run_id: _Optional[str] = ..., include_steps: _Optional[bool] = ...) -> None: ...

class WatchRunResponse(_message.Message):
    __slots__ = ("run", "run_step")
    RUN_FIELD_NUMBER: _ClassVar[int]
    RUN_STEP_FIELD_NUMBER: _ClassVar[int]
    run: _resources_pb2.Run
    run_step: _resources_pb2.RunStep
    def __init__(self, run: _Optional[_Union[_resources_pb2.Run, _Mapping]] = ..., run_step: _Optional[_Union[_resources_pb2.RunStep, _Mapping]] = ...) -> None: ...
