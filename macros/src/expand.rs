//! Checking the item `#[task]` is on, and writing its `Task` impl.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields};

use crate::parse::{Args, Key, Kind};

/// One `#[task]` use, checked and ready to expand.
pub(crate) struct Expansion {
    args: Args,
    item: DeriveInput,
}

impl Expansion {
    /// Checks what the attribute can work with: a non-generic struct or enum, and a `key`
    /// that names one of the struct's fields.
    pub(crate) fn new(args: Args, item: DeriveInput) -> syn::Result<Self> {
        if !item.generics.params.is_empty() {
            return Err(syn::Error::new_spanned(
                &item.generics,
                "#[task] does not support generic types: wrap the generic value in a concrete struct",
            ));
        }
        match (&item.data, &args.key) {
            (Data::Union(u), _) => {
                return Err(syn::Error::new(
                    u.union_token.span,
                    "#[task] goes on a struct or an enum, not a union",
                ))
            }
            (Data::Struct(s), Some(Key::Field(key))) => {
                let found = match &s.fields {
                    Fields::Named(named) => {
                        named.named.iter().any(|f| f.ident.as_ref() == Some(key))
                    }
                    _ => false,
                };
                if !found {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("`key = {key}`: `{}` has no field named `{key}`", item.ident),
                    ));
                }
            }
            (Data::Enum(_), Some(Key::Field(key))) => return Err(syn::Error::new(
                key.span(),
                "`key = field` needs a struct with named fields; an enum can use `key = method()`",
            )),
            _ => {}
        }
        Ok(Self { args, item })
    }

    /// The item unchanged, followed by its `Task` impl.
    pub(crate) fn expand(self) -> syn::Result<TokenStream> {
        let item = &self.item;
        let name = &item.ident;
        let owner = name.to_string();
        let kind = syn::Ident::new(self.args.kind.variant(), proc_macro2::Span::call_site());
        let key = self.args.key.as_ref().map(|key| {
            let value = match key {
                Key::Field(field) => quote! { &self.#field },
                Key::Method(method) => quote! { &self.#method() },
            };
            quote! {
                fn key(&self) -> ::core::option::Option<::std::string::String> {
                    ::core::option::Option::Some(::std::string::ToString::to_string(#value))
                }
            }
        });
        // Feeding kinds add their feed to the lifecycle; the bound names the trait to implement.
        let feed = match self.args.kind {
            Kind::Tick => quote! { ::tasktree::__private::tick_feed::<Self>(base, true) },
            Kind::AsyncTick => quote! { ::tasktree::__private::tick_feed::<Self>(base, false) },
            Kind::Channel => quote! { ::tasktree::__private::channel_feed::<Self>(base) },
            Kind::Task | Kind::Job | Kind::Work => quote! { base },
        };
        Ok(quote! {
            #item

            impl ::tasktree::Task for #name {
                const KIND: ::tasktree::Kind = ::tasktree::Kind::#kind;
                const OWNER: &'static str = #owner;

                #key

                fn __learned() -> &'static ::tasktree::__private::Learned {
                    static LEARNED: ::tasktree::__private::Learned =
                        ::tasktree::__private::Learned::new();
                    &LEARNED
                }

                fn __vtable() -> ::tasktree::__private::Vtable<Self> {
                    #[allow(unused_imports)]
                    use ::tasktree::__private::{ViaDefault as _, ViaLifecycle as _};
                    let base = (&&::tasktree::__private::Probe::<Self>::new()).vtable();
                    #feed
                }
            }
        })
    }
}
