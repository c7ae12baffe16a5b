/// A backend that signals doorbells itself, without the vCPU leaving guest code (KVM_IOEVENTFD):
/// the VM connects one to each bus's `DoorbellTable`, which tells it every doorbell's address and
/// every move. A registrar that cannot take a doorbell leaves it to the table's own check: the
/// write then reaches userspace and rings there.
public protocol DoorbellRegistrar: AnyObject {
    /// False when the backend refused it (KVM: another ioeventfd there without a match).
    func assign(_ doorbell: Doorbell, at address: UInt64) -> Bool
    func deassign(_ doorbell: Doorbell, at address: UInt64)
}
