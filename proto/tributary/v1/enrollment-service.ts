/** gRPC method paths of tributary.v1.Enrollment (see enrollment.proto). */
export const ENROLL_PATH = '/tributary.v1.Enrollment/Enroll';
export const RENEW_PATH = '/tributary.v1.Enrollment/Renew';
export const ENROLLMENT_SERVICE_NAME = 'tributary.v1.Enrollment';

/** The message an agent signs to prove it holds the private key of `publicKeyHash`. */
export function possessionMessage(bindTo: string, publicKeyHashHex: string): Buffer {
  return Buffer.from(`tributary-enroll-v1\n${bindTo}\n${publicKeyHashHex}`, 'utf8');
}
