/** gRPC method path of tributary.v1.Uplink/Stream (see uplink.proto). Each side builds its own
 * ServiceDefinition around it: the agent sends spooled batch bytes without re-encoding them, and
 * the hub reads a batch's header without decoding its events. */
export const UPLINK_STREAM_PATH = '/tributary.v1.Uplink/Stream';
export const UPLINK_SERVICE_NAME = 'tributary.v1.Uplink';
