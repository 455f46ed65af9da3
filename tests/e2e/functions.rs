//! Function backends through the real gateway: each cloud's event format against an endpoint
//! written to the provider's invoke contract (`functions/endpoint.py`), and functions Pylon
//! hosts itself with the real AWS Lambda runtime interface client.

mod hosted;
mod url;
