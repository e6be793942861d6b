// Every named limit in one place, units last in the name. Config may lower (never raise past the
// hard ceilings) the ones marked configurable; config/validate.ts checks them at startup.

export const LIMITS = {
  /** Points in one Write / write-batch call. */
  writeBatchPointsMax: 10_000,
  /** Request body bytes accepted by any RPC or HTTP route. */
  requestBytesMax: 64 * 1024 * 1024,
  /** database / collection names: bytes of UTF-8. */
  nameBytesMax: 128,
  /** Device id: bytes of UTF-8. */
  idBytesMax: 256,
  /** Field name: bytes of UTF-8. */
  fieldNameBytesMax: 128,
  /** Fields per point. */
  fieldsPerPointMax: 1_024,
  /** String field value: bytes of UTF-8. */
  stringValueBytesMax: 64 * 1024,
  /** One canonical point encoding. */
  pointBytesMax: 1024 * 1024,
  /** Ids in one Query. */
  queryIdsMax: 10_000,
  /** Ids in one delete (StorageService.Delete, the router's DELETE …/points). */
  deleteIdsMax: 10_000,
  /** Deletes in one WriteRequest (a router's replicated deletes). */
  deletesPerWriteMax: 100,
  /** Live tombstones one group may hold: a delete beyond it is refused until older ones are purged. */
  tombstonesPerGroupMax: 10_000,
  /** Lines in one line-protocol request (Influx /write, /api/v2/write). */
  lineProtocolPointsMax: 500_000,
  /** Ids in one router query (a query string). */
  routerQueryIdsMax: 1_000,
  /** Points in one Query page / StreamPoints message. */
  pageSizeDefault: 1_000,
  pageSizeMax: 10_000,
  /** Cursor string length. */
  cursorBytesMax: 4_096,
  /** Unary call deadline on the server. */
  unaryDeadlineMs: 30_000,
  /** A request with a body must arrive and be answered within this (a slowly sent body is cut off with 408). */
  bodyReceiveMsMax: 30_000,
  /** A whole StreamPoints call. */
  streamDeadlineMs: 10 * 60_000,
  /** One WAL record (a Write batch). */
  walRecordBytesMax: 128 * 1024 * 1024,
  /** WAL file rotation size. */
  walFileBytesMax: 64 * 1024 * 1024,
  /** Memory store budget before a flush (configurable: storage.memstore_bytes_max). */
  memstoreBytesDefault: 128 * 1024 * 1024,
  /** Decoded segments kept in memory. */
  segmentCacheBytesMax: 512 * 1024 * 1024,
  /** Groups: coordinator.total_groups upper bound. */
  totalGroupsMax: 65_536,
} as const;
