//! The SOAP edge driven through `app()` with `oneshot`, against in-memory fakes of the three
//! gRPC services: no sockets, so these run in milliseconds beside the real-socket suite.

mod fakes;
mod soap_edge;
