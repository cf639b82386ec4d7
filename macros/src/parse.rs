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

/// `#[task]`, `#[task(job)]`, `#[task(work, key = name)]`, `#[task(key = name())]`.
pub(crate) struct Args {
    pub(crate) kind: Kind,
    pub(crate) key: Option<Key>,
}

/// Where a task's key comes from.
pub(crate) enum Key {
    /// A named field.
    Field(Ident),
    /// A method `fn name(&self) -> impl Display`.
    Method(Ident),
}

impl Key {
    pub(crate) fn ident(&self) -> &Ident {
        match self {
            Key::Field(ident) | Key::Method(ident) => ident,
        }
    }
}

enum Arg {
    Kind(Ident, Kind),
    Key(Key),
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        if name == "key" {
            input.parse::<Token![=]>()?;
            let ident: Ident = input.parse()?;
            if input.peek(syn::token::Paren) {
                let args;
                syn::parenthesized!(args in input);
                if !args.is_empty() {
                    return Err(args.error("a key method takes no arguments: `key = name()`"));
                }
                return Ok(Arg::Key(Key::Method(ident)));
            }
            return Ok(Arg::Key(Key::Field(ident)));
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
                Arg::Key(key) => {
                    if args.key.is_some() {
                        return Err(syn::Error::new(key.ident().span(), "`key` is given twice"));
                    }
                    args.key = Some(key);
                }
            }
        }
        Ok(args)
    }
}
