import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EndpointState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENDPOINT_STATE_UNSPECIFIED: _ClassVar[EndpointState]
    ENDPOINT_STATE_ACTIVE: _ClassVar[EndpointState]
    ENDPOINT_STATE_DELETED: _ClassVar[EndpointState]

class EndpointEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENDPOINT_EVENT_TYPE_UNSPECIFIED: _ClassVar[EndpointEventType]
    ENDPOINT_EVENT_TYPE_ADDED: _ClassVar[EndpointEventType]
    ENDPOINT_EVENT_TYPE_UPDATED: _ClassVar[EndpointEventType]
    ENDPOINT_EVENT_TYPE_REMOVED: _ClassVar[EndpointEventType]
ENDPOINT_STATE_UNSPECIFIED: EndpointState
ENDPOINT_STATE_ACTIVE: EndpointState
ENDPOINT_STATE_DELETED: EndpointState
ENDPOINT_EVENT_TYPE_UNSPECIFIED: EndpointEventType
ENDPOINT_EVENT_TYPE_ADDED: EndpointEventType
ENDPOINT_EVENT_TYPE_UPDATED: EndpointEventType
ENDPOINT_EVENT_TYPE_REMOVED: EndpointEventType

class EndpointAddress(_message.Message):
    __slots__ = ("address", "pool", "space")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    address: str
    pool: str
    space: str
    def __init__(self, address: _Optional[str] = ..., pool: _Optional[str] = ..., space: _Optional[str] = ...) -> None: ...

class Endpoint(_message.Message):
    __slots__ = ("id", "host", "owner_id", "interface", "network", "mac", "labels", "addresses", "state", "create_time", "update_time", "delete_time")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DELETE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: int
    host: str
    owner_id: str
    interface: str
    network: str
    mac: str
    labels: _containers.ScalarMap[str, str]
    addresses: _containers.RepeatedCompositeFieldContainer[EndpointAddress]
    state: EndpointState
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    delete_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[int] = ..., host: _Optional[str] = ..., owner_id: _Optional[str] = ..., interface: _Optional[str] = ..., network: _Optional[str] = ..., mac: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., addresses: _Optional[_Iterable[_Union[EndpointAddress, _Mapping]]] = ..., state: _Optional[_Union[EndpointState, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., delete_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RegisterEndpointRequest(_message.Message):
    __slots__ = ("host", "owner_id", "interface", "network", "mac", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    HOST_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    host: str
    owner_id: str
    interface: str
    network: str
    mac: str
    labels: _containers.ScalarMap[str, str]
    def __init__(self, host: _Optional[str] = ..., owner_id: _Optional[str] = ..., interface: _Optional[str] = ..., network: _Optional[str] = ..., mac: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class UpdateEndpointLabelsRequest(_message.Message):
    __slots__ = ("owner_id", "interface", "labels", "remove_labels", "replace")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    REMOVE_LABELS_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    owner_id: str
    interface: str
    labels: _containers.ScalarMap[str, str]
    remove_labels: _containers.RepeatedScalarFieldContainer[str]
    replace: bool
    def __init__(self, owner_id: _Optional[str] = ..., interface: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., remove_labels: _Optional[_Iterable[str]] = ..., replace: _Optional[bool] = ...) -> None: ...

class GetEndpointRequest(_message.Message):
    __slots__ = ("owner_id", "interface", "id")
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    owner_id: str
    interface: str
    id: int
    def __init__(self, owner_id: _Optional[str] = ..., interface: _Optional[str] = ..., id: _Optional[int] = ...) -> None: ...

class ListEndpointsRequest(_message.Message):
    __slots__ = ("host", "network", "pool", "label_selector", "state", "page_size", "page_token")
    HOST_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    LABEL_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    host: str
    network: str
    pool: str
    label_selector: str
    state: EndpointState
    page_size: int
    page_token: str
    def __init__(self, host: _Optional[str] = ..., network: _Optional[str] = ..., pool: _Optional[str] = ..., label_selector: _Optional[str] = ..., state: _Optional[_Union[EndpointState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEndpointsResponse(_message.Message):
    __slots__ = ("endpoints", "next_page_token", "revision")
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    endpoints: _containers.RepeatedCompositeFieldContainer[Endpoint]
    next_page_token: str
    revision: int
    def __init__(self, endpoints: _Optional[_Iterable[_Union[Endpoint, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., revision: _Optional[int] = ...) -> None: ...

class LookupAddressRequest(_message.Message):
    __slots__ = ("address", "space", "at")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    address: str
    space: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, address: _Optional[str] = ..., space: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LookupAddressResponse(_message.Message):
    __slots__ = ("endpoint", "held_from", "held_until")
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    HELD_FROM_FIELD_NUMBER: _ClassVar[int]
    HELD_UNTIL_FIELD_NUMBER: _ClassVar[int]
    endpoint: Endpoint
    held_from: _timestamp_pb2.Timestamp
    held_until: _timestamp_pb2.Timestamp
    def __init__(self, endpoint: _Optional[_Union[Endpoint, _Mapping]] = ..., held_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., held_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchEndpointsRequest(_message.Message):
    __slots__ = ("since_revision", "host", "network", "pool", "label_selector")
    SINCE_REVISION_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    LABEL_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    since_revision: int
    host: str
    network: str
    pool: str
    label_selector: str
    def __init__(self, since_revision: _Optional[int] = ..., host: _Optional[str] = ..., network: _Optional[str] = ..., pool: _Optional[str] = ..., label_selector: _Optional[str] = ...) -> None: ...

class EndpointEvent(_message.Message):
    __slots__ = ("revision", "type", "endpoint", "time")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    revision: int
    type: EndpointEventType
    endpoint: Endpoint
    time: _timestamp_pb2.Timestamp
    def __init__(self, revision: _Optional[int] = ..., type: _Optional[_Union[EndpointEventType, str]] = ..., endpoint: _Optional[_Union[Endpoint, _Mapping]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchEndpointsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[EndpointEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[EndpointEvent, _Mapping]]] = ...) -> None: ...
