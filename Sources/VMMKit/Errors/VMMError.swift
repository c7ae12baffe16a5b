/// Every error vmm reports to a user conforms to this: one line, naming what was wrong.
///
/// Errors are typed per layer (an enum each) and rendered once, by the command line.
public protocol VMMError: Error, CustomStringConvertible {}
