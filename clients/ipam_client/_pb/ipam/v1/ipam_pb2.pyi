import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Family(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FAMILY_UNSPECIFIED: _ClassVar[Family]
    FAMILY_IPV4: _ClassVar[Family]
    FAMILY_IPV6: _ClassVar[Family]

class GatewayPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GATEWAY_POLICY_UNSPECIFIED: _ClassVar[GatewayPolicy]
    GATEWAY_POLICY_FIRST_USABLE: _ClassVar[GatewayPolicy]
    GATEWAY_POLICY_NONE: _ClassVar[GatewayPolicy]

class LeaseState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEASE_STATE_UNSPECIFIED: _ClassVar[LeaseState]
    LEASE_STATE_ACTIVE: _ClassVar[LeaseState]
    LEASE_STATE_RELEASED: _ClassVar[LeaseState]

class HostState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOST_STATE_UNSPECIFIED: _ClassVar[HostState]
    HOST_STATE_ALIVE: _ClassVar[HostState]
    HOST_STATE_STALE: _ClassVar[HostState]
    HOST_STATE_DEAD: _ClassVar[HostState]

class GcReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GC_REASON_UNSPECIFIED: _ClassVar[GcReason]
    GC_REASON_DEAD_HOST: _ClassVar[GcReason]
    GC_REASON_RUNTIME_GONE: _ClassVar[GcReason]
    GC_REASON_EMPTY_SUBNET: _ClassVar[GcReason]
    GC_REASON_HOST_DELETED: _ClassVar[GcReason]

class NetworkAddressRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NETWORK_ADDRESS_ROLE_UNSPECIFIED: _ClassVar[NetworkAddressRole]
    NETWORK_ADDRESS_ROLE_CONTAINER: _ClassVar[NetworkAddressRole]
    NETWORK_ADDRESS_ROLE_GATEWAY: _ClassVar[NetworkAddressRole]
    NETWORK_ADDRESS_ROLE_AUX: _ClassVar[NetworkAddressRole]
FAMILY_UNSPECIFIED: Family
FAMILY_IPV4: Family
FAMILY_IPV6: Family
GATEWAY_POLICY_UNSPECIFIED: GatewayPolicy
GATEWAY_POLICY_FIRST_USABLE: GatewayPolicy
GATEWAY_POLICY_NONE: GatewayPolicy
LEASE_STATE_UNSPECIFIED: LeaseState
LEASE_STATE_ACTIVE: LeaseState
LEASE_STATE_RELEASED: LeaseState
HOST_STATE_UNSPECIFIED: HostState
HOST_STATE_ALIVE: HostState
HOST_STATE_STALE: HostState
HOST_STATE_DEAD: HostState
GC_REASON_UNSPECIFIED: GcReason
GC_REASON_DEAD_HOST: GcReason
GC_REASON_RUNTIME_GONE: GcReason
GC_REASON_EMPTY_SUBNET: GcReason
GC_REASON_HOST_DELETED: GcReason
NETWORK_ADDRESS_ROLE_UNSPECIFIED: NetworkAddressRole
NETWORK_ADDRESS_ROLE_CONTAINER: NetworkAddressRole
NETWORK_ADDRESS_ROLE_GATEWAY: NetworkAddressRole
NETWORK_ADDRESS_ROLE_AUX: NetworkAddressRole

class AddressSpace(_message.Message):
    __slots__ = ("name", "description", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateAddressSpaceRequest(_message.Message):
    __slots__ = ("name", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ListAddressSpacesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAddressSpacesResponse(_message.Message):
    __slots__ = ("address_spaces", "next_page_token")
    ADDRESS_SPACES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    address_spaces: _containers.RepeatedCompositeFieldContainer[AddressSpace]
    next_page_token: str
    def __init__(self, address_spaces: _Optional[_Iterable[_Union[AddressSpace, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteAddressSpaceRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteAddressSpaceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Usage(_message.Message):
    __slots__ = ("total_addresses", "reserved_addresses", "allocated_addresses", "free_addresses", "total_subnets", "allocated_subnets", "free_subnets", "cooling_addresses")
    TOTAL_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    RESERVED_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    FREE_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SUBNETS_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_SUBNETS_FIELD_NUMBER: _ClassVar[int]
    FREE_SUBNETS_FIELD_NUMBER: _ClassVar[int]
    COOLING_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    total_addresses: str
    reserved_addresses: str
    allocated_addresses: str
    free_addresses: str
    total_subnets: int
    allocated_subnets: int
    free_subnets: int
    cooling_addresses: str
    def __init__(self, total_addresses: _Optional[str] = ..., reserved_addresses: _Optional[str] = ..., allocated_addresses: _Optional[str] = ..., free_addresses: _Optional[str] = ..., total_subnets: _Optional[int] = ..., allocated_subnets: _Optional[int] = ..., free_subnets: _Optional[int] = ..., cooling_addresses: _Optional[str] = ...) -> None: ...

class Pool(_message.Message):
    __slots__ = ("name", "space", "cidr", "family", "host_prefix_length", "reserved_cidrs", "host_selector", "disabled", "cooldown_seconds", "max_subnets_per_host", "gateway_policy", "create_time", "update_time", "usage")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    CIDR_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    HOST_PREFIX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    RESERVED_CIDRS_FIELD_NUMBER: _ClassVar[int]
    HOST_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    COOLDOWN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_SUBNETS_PER_HOST_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_POLICY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    name: str
    space: str
    cidr: str
    family: Family
    host_prefix_length: int
    reserved_cidrs: _containers.RepeatedScalarFieldContainer[str]
    host_selector: str
    disabled: bool
    cooldown_seconds: int
    max_subnets_per_host: int
    gateway_policy: GatewayPolicy
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    usage: Usage
    def __init__(self, name: _Optional[str] = ..., space: _Optional[str] = ..., cidr: _Optional[str] = ..., family: _Optional[_Union[Family, str]] = ..., host_prefix_length: _Optional[int] = ..., reserved_cidrs: _Optional[_Iterable[str]] = ..., host_selector: _Optional[str] = ..., disabled: _Optional[bool] = ..., cooldown_seconds: _Optional[int] = ..., max_subnets_per_host: _Optional[int] = ..., gateway_policy: _Optional[_Union[GatewayPolicy, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ...) -> None: ...

class CreatePoolRequest(_message.Message):
    __slots__ = ("name", "space", "cidr", "host_prefix_length", "reserved_cidrs", "host_selector", "disabled", "cooldown_seconds", "max_subnets_per_host", "gateway_policy")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    CIDR_FIELD_NUMBER: _ClassVar[int]
    HOST_PREFIX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    RESERVED_CIDRS_FIELD_NUMBER: _ClassVar[int]
    HOST_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    COOLDOWN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_SUBNETS_PER_HOST_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_POLICY_FIELD_NUMBER: _ClassVar[int]
    name: str
    space: str
    cidr: str
    host_prefix_length: int
    reserved_cidrs: _containers.RepeatedScalarFieldContainer[str]
    host_selector: str
    disabled: bool
    cooldown_seconds: int
    max_subnets_per_host: int
    gateway_policy: GatewayPolicy
    def __init__(self, name: _Optional[str] = ..., space: _Optional[str] = ..., cidr: _Optional[str] = ..., host_prefix_length: _Optional[int] = ..., reserved_cidrs: _Optional[_Iterable[str]] = ..., host_selector: _Optional[str] = ..., disabled: _Optional[bool] = ..., cooldown_seconds: _Optional[int] = ..., max_subnets_per_host: _Optional[int] = ..., gateway_policy: _Optional[_Union[GatewayPolicy, str]] = ...) -> None: ...

class GetPoolRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListPoolsRequest(_message.Message):
    __slots__ = ("space", "page_size", "page_token")
    SPACE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    space: str
    page_size: int
    page_token: str
    def __init__(self, space: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPoolsResponse(_message.Message):
    __slots__ = ("pools", "next_page_token")
    POOLS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    pools: _containers.RepeatedCompositeFieldContainer[Pool]
    next_page_token: str
    def __init__(self, pools: _Optional[_Iterable[_Union[Pool, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdatePoolRequest(_message.Message):
    __slots__ = ("name", "disabled", "cooldown_seconds", "max_subnets_per_host", "host_selector", "set_reserved_cidrs", "reserved_cidrs")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    COOLDOWN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_SUBNETS_PER_HOST_FIELD_NUMBER: _ClassVar[int]
    HOST_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    SET_RESERVED_CIDRS_FIELD_NUMBER: _ClassVar[int]
    RESERVED_CIDRS_FIELD_NUMBER: _ClassVar[int]
    name: str
    disabled: bool
    cooldown_seconds: int
    max_subnets_per_host: int
    host_selector: str
    set_reserved_cidrs: bool
    reserved_cidrs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., disabled: _Optional[bool] = ..., cooldown_seconds: _Optional[int] = ..., max_subnets_per_host: _Optional[int] = ..., host_selector: _Optional[str] = ..., set_reserved_cidrs: _Optional[bool] = ..., reserved_cidrs: _Optional[_Iterable[str]] = ...) -> None: ...

class DeletePoolRequest(_message.Message):
    __slots__ = ("name", "force")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    force: bool
    def __init__(self, name: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class DeletePoolResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Host(_message.Message):
    __slots__ = ("name", "labels", "create_time", "last_seen_time", "state", "heartbeat_ttl_seconds", "drain_time")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DRAIN_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    labels: _containers.ScalarMap[str, str]
    create_time: _timestamp_pb2.Timestamp
    last_seen_time: _timestamp_pb2.Timestamp
    state: HostState
    heartbeat_ttl_seconds: int
    drain_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[HostState, str]] = ..., heartbeat_ttl_seconds: _Optional[int] = ..., drain_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RegisterHostRequest(_message.Message):
    __slots__ = ("name", "labels", "heartbeat_ttl_seconds")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    labels: _containers.ScalarMap[str, str]
    heartbeat_ttl_seconds: int
    def __init__(self, name: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., heartbeat_ttl_seconds: _Optional[int] = ...) -> None: ...

class DrainHostRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class UndrainHostRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteHostRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteHostResponse(_message.Message):
    __slots__ = ("released", "kept_for_history", "kept")
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    KEPT_FOR_HISTORY_FIELD_NUMBER: _ClassVar[int]
    KEPT_FIELD_NUMBER: _ClassVar[int]
    released: _containers.RepeatedCompositeFieldContainer[GcItem]
    kept_for_history: bool
    kept: _containers.RepeatedCompositeFieldContainer[KeptSubnet]
    def __init__(self, released: _Optional[_Iterable[_Union[GcItem, _Mapping]]] = ..., kept_for_history: _Optional[bool] = ..., kept: _Optional[_Iterable[_Union[KeptSubnet, _Mapping]]] = ...) -> None: ...

class KeptSubnet(_message.Message):
    __slots__ = ("cidr", "space", "pool", "host", "borrowed")
    CIDR_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    BORROWED_FIELD_NUMBER: _ClassVar[int]
    cidr: str
    space: str
    pool: str
    host: str
    borrowed: _containers.RepeatedCompositeFieldContainer[BorrowedLease]
    def __init__(self, cidr: _Optional[str] = ..., space: _Optional[str] = ..., pool: _Optional[str] = ..., host: _Optional[str] = ..., borrowed: _Optional[_Iterable[_Union[BorrowedLease, _Mapping]]] = ...) -> None: ...

class BorrowedLease(_message.Message):
    __slots__ = ("address", "host", "owner_id", "interface")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    address: str
    host: str
    owner_id: str
    interface: str
    def __init__(self, address: _Optional[str] = ..., host: _Optional[str] = ..., owner_id: _Optional[str] = ..., interface: _Optional[str] = ...) -> None: ...

class GetHostRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListHostsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListHostsResponse(_message.Message):
    __slots__ = ("hosts", "next_page_token")
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    hosts: _containers.RepeatedCompositeFieldContainer[Host]
    next_page_token: str
    def __init__(self, hosts: _Optional[_Iterable[_Union[Host, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class HostSubnet(_message.Message):
    __slots__ = ("cidr", "pool", "space", "host", "gateway", "create_time", "usage")
    CIDR_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    cidr: str
    pool: str
    space: str
    host: str
    gateway: str
    create_time: _timestamp_pb2.Timestamp
    usage: Usage
    def __init__(self, cidr: _Optional[str] = ..., pool: _Optional[str] = ..., space: _Optional[str] = ..., host: _Optional[str] = ..., gateway: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ...) -> None: ...

class AcquireSubnetRequest(_message.Message):
    __slots__ = ("host", "pool", "space", "family")
    HOST_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    host: str
    pool: str
    space: str
    family: Family
    def __init__(self, host: _Optional[str] = ..., pool: _Optional[str] = ..., space: _Optional[str] = ..., family: _Optional[_Union[Family, str]] = ...) -> None: ...

class ReleaseSubnetRequest(_message.Message):
    __slots__ = ("cidr", "space", "force")
    CIDR_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    cidr: str
    space: str
    force: bool
    def __init__(self, cidr: _Optional[str] = ..., space: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class ReleaseSubnetResponse(_message.Message):
    __slots__ = ("kept", "released")
    KEPT_FIELD_NUMBER: _ClassVar[int]
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    kept: KeptSubnet
    released: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, kept: _Optional[_Union[KeptSubnet, _Mapping]] = ..., released: _Optional[_Iterable[str]] = ...) -> None: ...

class ListSubnetsRequest(_message.Message):
    __slots__ = ("pool", "host", "page_size", "page_token", "address", "space")
    POOL_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    pool: str
    host: str
    page_size: int
    page_token: str
    address: str
    space: str
    def __init__(self, pool: _Optional[str] = ..., host: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., address: _Optional[str] = ..., space: _Optional[str] = ...) -> None: ...

class ListSubnetsResponse(_message.Message):
    __slots__ = ("subnets", "next_page_token")
    SUBNETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    subnets: _containers.RepeatedCompositeFieldContainer[HostSubnet]
    next_page_token: str
    def __init__(self, subnets: _Optional[_Iterable[_Union[HostSubnet, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Lease(_message.Message):
    __slots__ = ("address", "address_cidr", "gateway", "subnet", "pool", "space", "host", "owner_id", "interface", "attributes", "state", "allocate_time", "release_time", "family")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_CIDR_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    SUBNET_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ALLOCATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RELEASE_TIME_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    address: str
    address_cidr: str
    gateway: str
    subnet: str
    pool: str
    space: str
    host: str
    owner_id: str
    interface: str
    attributes: _containers.ScalarMap[str, str]
    state: LeaseState
    allocate_time: _timestamp_pb2.Timestamp
    release_time: _timestamp_pb2.Timestamp
    family: Family
    def __init__(self, address: _Optional[str] = ..., address_cidr: _Optional[str] = ..., gateway: _Optional[str] = ..., subnet: _Optional[str] = ..., pool: _Optional[str] = ..., space: _Optional[str] = ..., host: _Optional[str] = ..., owner_id: _Optional[str] = ..., interface: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ..., state: _Optional[_Union[LeaseState, str]] = ..., allocate_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., release_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., family: _Optional[_Union[Family, str]] = ...) -> None: ...

class AddressRequest(_message.Message):
    __slots__ = ("pool", "space", "family", "address", "single_subnet")
    POOL_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SINGLE_SUBNET_FIELD_NUMBER: _ClassVar[int]
    pool: str
    space: str
    family: Family
    address: str
    single_subnet: bool
    def __init__(self, pool: _Optional[str] = ..., space: _Optional[str] = ..., family: _Optional[_Union[Family, str]] = ..., address: _Optional[str] = ..., single_subnet: _Optional[bool] = ...) -> None: ...

class AllocateRequest(_message.Message):
    __slots__ = ("host", "owner_id", "interface", "attributes", "addresses")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    HOST_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    host: str
    owner_id: str
    interface: str
    attributes: _containers.ScalarMap[str, str]
    addresses: _containers.RepeatedCompositeFieldContainer[AddressRequest]
    def __init__(self, host: _Optional[str] = ..., owner_id: _Optional[str] = ..., interface: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ..., addresses: _Optional[_Iterable[_Union[AddressRequest, _Mapping]]] = ...) -> None: ...

class AllocateResponse(_message.Message):
    __slots__ = ("leases", "already_allocated")
    LEASES_FIELD_NUMBER: _ClassVar[int]
    ALREADY_ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    leases: _containers.RepeatedCompositeFieldContainer[Lease]
    already_allocated: bool
    def __init__(self, leases: _Optional[_Iterable[_Union[Lease, _Mapping]]] = ..., already_allocated: _Optional[bool] = ...) -> None: ...

class OwnerKey(_message.Message):
    __slots__ = ("owner_id", "interface")
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    owner_id: str
    interface: str
    def __init__(self, owner_id: _Optional[str] = ..., interface: _Optional[str] = ...) -> None: ...

class AddressKey(_message.Message):
    __slots__ = ("address", "space")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    address: str
    space: str
    def __init__(self, address: _Optional[str] = ..., space: _Optional[str] = ...) -> None: ...

class ReleaseRequest(_message.Message):
    __slots__ = ("owner", "address")
    OWNER_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    owner: OwnerKey
    address: AddressKey
    def __init__(self, owner: _Optional[_Union[OwnerKey, _Mapping]] = ..., address: _Optional[_Union[AddressKey, _Mapping]] = ...) -> None: ...

class ReleaseResponse(_message.Message):
    __slots__ = ("leases", "already_released")
    LEASES_FIELD_NUMBER: _ClassVar[int]
    ALREADY_RELEASED_FIELD_NUMBER: _ClassVar[int]
    leases: _containers.RepeatedCompositeFieldContainer[Lease]
    already_released: bool
    def __init__(self, leases: _Optional[_Iterable[_Union[Lease, _Mapping]]] = ..., already_released: _Optional[bool] = ...) -> None: ...

class GetLeaseRequest(_message.Message):
    __slots__ = ("address", "space")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    address: str
    space: str
    def __init__(self, address: _Optional[str] = ..., space: _Optional[str] = ...) -> None: ...

class ListLeasesRequest(_message.Message):
    __slots__ = ("pool", "host", "owner_id", "interface", "state", "page_size", "page_token")
    POOL_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    pool: str
    host: str
    owner_id: str
    interface: str
    state: LeaseState
    page_size: int
    page_token: str
    def __init__(self, pool: _Optional[str] = ..., host: _Optional[str] = ..., owner_id: _Optional[str] = ..., interface: _Optional[str] = ..., state: _Optional[_Union[LeaseState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListLeasesResponse(_message.Message):
    __slots__ = ("leases", "next_page_token")
    LEASES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    leases: _containers.RepeatedCompositeFieldContainer[Lease]
    next_page_token: str
    def __init__(self, leases: _Optional[_Iterable[_Union[Lease, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GcItem(_message.Message):
    __slots__ = ("reason", "kind", "host", "space", "pool", "target", "owner_id", "interface")
    REASON_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    reason: GcReason
    kind: str
    host: str
    space: str
    pool: str
    target: str
    owner_id: str
    interface: str
    def __init__(self, reason: _Optional[_Union[GcReason, str]] = ..., kind: _Optional[str] = ..., host: _Optional[str] = ..., space: _Optional[str] = ..., pool: _Optional[str] = ..., target: _Optional[str] = ..., owner_id: _Optional[str] = ..., interface: _Optional[str] = ...) -> None: ...

class RunGcRequest(_message.Message):
    __slots__ = ("dry_run", "grace", "host", "max_items", "duty")
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    GRACE_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    MAX_ITEMS_FIELD_NUMBER: _ClassVar[int]
    DUTY_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    grace: _duration_pb2.Duration
    host: str
    max_items: int
    duty: float
    def __init__(self, dry_run: _Optional[bool] = ..., grace: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., host: _Optional[str] = ..., max_items: _Optional[int] = ..., duty: _Optional[float] = ...) -> None: ...

class GcCount(_message.Message):
    __slots__ = ("reason", "kind", "candidates", "reclaimed")
    REASON_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    RECLAIMED_FIELD_NUMBER: _ClassVar[int]
    reason: GcReason
    kind: str
    candidates: int
    reclaimed: int
    def __init__(self, reason: _Optional[_Union[GcReason, str]] = ..., kind: _Optional[str] = ..., candidates: _Optional[int] = ..., reclaimed: _Optional[int] = ...) -> None: ...

class RunGcResponse(_message.Message):
    __slots__ = ("dry_run", "grace", "start_time", "duration", "counts", "items")
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    GRACE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    grace: _duration_pb2.Duration
    start_time: _timestamp_pb2.Timestamp
    duration: _duration_pb2.Duration
    counts: _containers.RepeatedCompositeFieldContainer[GcCount]
    items: _containers.RepeatedCompositeFieldContainer[GcItem]
    def __init__(self, dry_run: _Optional[bool] = ..., grace: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., counts: _Optional[_Iterable[_Union[GcCount, _Mapping]]] = ..., items: _Optional[_Iterable[_Union[GcItem, _Mapping]]] = ...) -> None: ...

class ReconcileHostRequest(_message.Message):
    __slots__ = ("host", "match_attributes", "keep", "detail", "min_age_seconds")
    class MatchAttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    HOST_FIELD_NUMBER: _ClassVar[int]
    MATCH_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    KEEP_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    MIN_AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    host: str
    match_attributes: _containers.ScalarMap[str, str]
    keep: _containers.RepeatedCompositeFieldContainer[OwnerKey]
    detail: str
    min_age_seconds: int
    def __init__(self, host: _Optional[str] = ..., match_attributes: _Optional[_Mapping[str, str]] = ..., keep: _Optional[_Iterable[_Union[OwnerKey, _Mapping]]] = ..., detail: _Optional[str] = ..., min_age_seconds: _Optional[int] = ...) -> None: ...

class ReconcileHostResponse(_message.Message):
    __slots__ = ("released",)
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    released: _containers.RepeatedCompositeFieldContainer[GcItem]
    def __init__(self, released: _Optional[_Iterable[_Union[GcItem, _Mapping]]] = ...) -> None: ...

class GcRecord(_message.Message):
    __slots__ = ("id", "time", "item", "detail")
    ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    id: int
    time: _timestamp_pb2.Timestamp
    item: GcItem
    detail: str
    def __init__(self, id: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., item: _Optional[_Union[GcItem, _Mapping]] = ..., detail: _Optional[str] = ...) -> None: ...

class ListGcRecordsRequest(_message.Message):
    __slots__ = ("host", "reason", "page_size", "page_token")
    HOST_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    host: str
    reason: GcReason
    page_size: int
    page_token: str
    def __init__(self, host: _Optional[str] = ..., reason: _Optional[_Union[GcReason, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListGcRecordsResponse(_message.Message):
    __slots__ = ("records", "next_page_token")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[GcRecord]
    next_page_token: str
    def __init__(self, records: _Optional[_Iterable[_Union[GcRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RequestNetworkPoolRequest(_message.Message):
    __slots__ = ("host", "space", "subnet", "ip_range", "options", "v6", "replay")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    HOST_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    SUBNET_FIELD_NUMBER: _ClassVar[int]
    IP_RANGE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    V6_FIELD_NUMBER: _ClassVar[int]
    REPLAY_FIELD_NUMBER: _ClassVar[int]
    host: str
    space: str
    subnet: str
    ip_range: str
    options: _containers.ScalarMap[str, str]
    v6: bool
    replay: bool
    def __init__(self, host: _Optional[str] = ..., space: _Optional[str] = ..., subnet: _Optional[str] = ..., ip_range: _Optional[str] = ..., options: _Optional[_Mapping[str, str]] = ..., v6: _Optional[bool] = ..., replay: _Optional[bool] = ...) -> None: ...

class NetworkPool(_message.Message):
    __slots__ = ("pool_id", "cidr")
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    CIDR_FIELD_NUMBER: _ClassVar[int]
    pool_id: str
    cidr: str
    def __init__(self, pool_id: _Optional[str] = ..., cidr: _Optional[str] = ...) -> None: ...

class ReleaseNetworkPoolRequest(_message.Message):
    __slots__ = ("host", "pool_id")
    HOST_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    host: str
    pool_id: str
    def __init__(self, host: _Optional[str] = ..., pool_id: _Optional[str] = ...) -> None: ...

class ReleaseNetworkPoolResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RequestNetworkAddressRequest(_message.Message):
    __slots__ = ("host", "pool_id", "address", "role", "mac_address")
    HOST_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    MAC_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    host: str
    pool_id: str
    address: str
    role: NetworkAddressRole
    mac_address: str
    def __init__(self, host: _Optional[str] = ..., pool_id: _Optional[str] = ..., address: _Optional[str] = ..., role: _Optional[_Union[NetworkAddressRole, str]] = ..., mac_address: _Optional[str] = ...) -> None: ...

class NetworkAddress(_message.Message):
    __slots__ = ("address_cidr",)
    ADDRESS_CIDR_FIELD_NUMBER: _ClassVar[int]
    address_cidr: str
    def __init__(self, address_cidr: _Optional[str] = ...) -> None: ...

class ReleaseNetworkAddressRequest(_message.Message):
    __slots__ = ("host", "pool_id", "address")
    HOST_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    host: str
    pool_id: str
    address: str
    def __init__(self, host: _Optional[str] = ..., pool_id: _Optional[str] = ..., address: _Optional[str] = ...) -> None: ...

class ReleaseNetworkAddressResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NetworkInUse(_message.Message):
    __slots__ = ("subnets", "addresses")
    SUBNETS_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    subnets: _containers.RepeatedScalarFieldContainer[str]
    addresses: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, subnets: _Optional[_Iterable[str]] = ..., addresses: _Optional[_Iterable[str]] = ...) -> None: ...

class ReconcileNetworksRequest(_message.Message):
    __slots__ = ("host", "space", "networks", "min_age_seconds")
    HOST_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    NETWORKS_FIELD_NUMBER: _ClassVar[int]
    MIN_AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    host: str
    space: str
    networks: _containers.RepeatedCompositeFieldContainer[NetworkInUse]
    min_age_seconds: int
    def __init__(self, host: _Optional[str] = ..., space: _Optional[str] = ..., networks: _Optional[_Iterable[_Union[NetworkInUse, _Mapping]]] = ..., min_age_seconds: _Optional[int] = ...) -> None: ...

class ReconcileNetworksResponse(_message.Message):
    __slots__ = ("released",)
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    released: _containers.RepeatedCompositeFieldContainer[GcItem]
    def __init__(self, released: _Optional[_Iterable[_Union[GcItem, _Mapping]]] = ...) -> None: ...

class ApiToken(_message.Message):
    __slots__ = ("id", "name", "role", "host", "create_time", "expire_time", "revoke_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    REVOKE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    role: str
    host: str
    create_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    revoke_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[str] = ..., host: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoke_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateTokenRequest(_message.Message):
    __slots__ = ("name", "role", "host", "ttl_seconds")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: str
    host: str
    ttl_seconds: int
    def __init__(self, name: _Optional[str] = ..., role: _Optional[str] = ..., host: _Optional[str] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class CreateTokenResponse(_message.Message):
    __slots__ = ("token", "secret")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    token: ApiToken
    secret: str
    def __init__(self, token: _Optional[_Union[ApiToken, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class ListTokensRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "include_revoked")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REVOKED_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    include_revoked: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., include_revoked: _Optional[bool] = ...) -> None: ...

class ListTokensResponse(_message.Message):
    __slots__ = ("tokens", "next_page_token")
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[ApiToken]
    next_page_token: str
    def __init__(self, tokens: _Optional[_Iterable[_Union[ApiToken, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RevokeTokenRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...
