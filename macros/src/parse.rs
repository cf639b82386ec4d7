//! Parsing `#[task(...)]`'s arguments.

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, Token};

/// The kind a task is declared with.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Task,
    Job,
    Work,
    /// Ticks in the parent's mailbox.
    Tick,
    /// Ticks on its own.
    AsyncTick,
    Channel,
}

impl Kind {
    /// The `tasktree::Kind` variant.
    pub(crate) fn variant(self) -> &'static str {
        match self {
            Kind::Task => "Task",
            Kind::Job => "Job",
            Kind::Work => "Work",
            Kind::Tick | Kind::AsyncTick => "Tick",
            Kind::Channel => "Channel",
        }
    }
}

/// `#[task]`, `#[task(job)]`, `#[task(work, key = name)]`.
pub(crate) struct Args {
    pub(crate) kind: Kind,
    pub(crate) key: Option<Ident>,
}

enum Arg {
    Kind(Ident, Kind),
    Key(Ident),
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        if name == "key" {
            input.parse::<Token![=]>()?;
            return Ok(Arg::Key(input.parse()?));
        }
        let kind = match name.to_string().as_str() {
            "job" => Kind::Job,
            "work" => Kind::Work,
            "task" => Kind::Task,
            "tick" => Kind::Tick,
            "async_tick" => Kind::AsyncTick,
            "channel" => Kind::Channel,
            other => {
                return Err(syn::Error::new(
                    name.span(),
                    format!(
                        "unknown task option `{other}`: expected `job`, `work`, `tick`, `async_tick`, `channel` or `key = field`"
                    ),
                ))
            }
        };
        Ok(Arg::Kind(name, kind))
    }
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args {
            kind: Kind::Task,
            key: None,
        };
        let mut kind_given: Option<Ident> = None;
        for arg in Punctuated::<Arg, Token![,]>::parse_terminated(input)? {
            match arg {
                Arg::Kind(name, kind) => {
                    if let Some(first) = &kind_given {
                        return Err(syn::Error::new(
                            name.span(),
                            format!("a task has one kind: `{first}` and `{name}` both given"),
                        ));
                    }
                    kind_given = Some(name);
                    args.kind = kind;
                }
                Arg::Key(field) => {
                    if args.key.is_some() {
                        return Err(syn::Error::new(field.span(), "`key` is given twice"));
                    }
                    args.key = Some(field);
                }
            }
        }
        Ok(args)
    }
}
