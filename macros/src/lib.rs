//! The `#[task]` attribute of [tasktree](https://docs.rs/tasktree). Use it through
//! `tasktree::task`; this crate holds only the parsing and the expansion.
//!
//! | attribute | kind | ends when |
//! |---|---|---|
//! | `#[task]` | task | its `run`/`go` returns, it fails, or it is stopped |
//! | `#[task(job)]` | job | stopped, or its last child has ended |
//! | `#[task(work)]` | work | stopped |
//! | `#[task(tick)]`, `#[task(async_tick)]` | tick (implement `Tick`) | stopped |
//! | `#[task(channel)]` | channel (implement `Channel`) | its stream ends |
//! | `#[task(key = field)]` (with any kind) | | the field's `to_string()` is the key among siblings |
//! | `#[task(key = method())]` (with any kind) | | the method's result's `to_string()` is the key |

mod expand;
mod parse;

use proc_macro::TokenStream;

/// Makes a struct or enum a task: writes its `tasktree::Task` impl (kind, owner type name,
/// key, and the wiring of its `Lifecycle` impl if it has one). The value's own fields are
/// untouched: a struct literal needs no framework fields.
///
/// ```ignore
/// #[task(job, key = remote)]
/// struct Connection { remote: String }
/// ```
#[proc_macro_attribute]
pub fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    let args = syn::parse_macro_input!(args as parse::Args);
    let item = syn::parse_macro_input!(item as syn::DeriveInput);
    expand::Expansion::new(args, item)
        .and_then(|e| e.expand())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
