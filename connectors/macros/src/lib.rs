//! `#[connector_actions]`: turns an inherent impl block of async action methods into an
//! implementation of `campuscore_connectors::ActionSet`.
//!
//! Each action method carries `#[action(tags(...))]` (plus `download` for actions that
//! return a streamed `Download`), a doc comment (the action's description), and the
//! signature `async fn name(&self, ctx: &ActionContext[, params: Input]) -> Result<Output,
//! ConnectorError>`. The macro keeps the methods (minus `#[action]`), and generates the
//! descriptors (name, description, tags, input/output JSON Schemas) and a dispatcher that
//! parses and validates JSON params before calling the method.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Attribute, Expr, ExprLit, FnArg, GenericArgument, Ident, ImplItem, ImplItemFn, ItemImpl, Lit,
    Meta, PathArguments, ReturnType, Token, Type, parse_macro_input,
};

/// Valid tag names and the `Tag` variants they stand for.
const TAGS: &[(&str, &str)] = &[
    ("file_browse", "FileBrowse"),
    ("file_download", "FileDownload"),
    ("read", "Read"),
    ("write", "Write"),
    ("destructive", "Destructive"),
];

/// Implements `ActionSet` for the impl block's type from its `#[action]` methods.
#[proc_macro_attribute]
pub fn connector_actions(args: TokenStream, input: TokenStream) -> TokenStream {
    let args = TokenStream2::from(args);
    let mut item = parse_macro_input!(input as ItemImpl);
    if !args.is_empty() {
        return syn::Error::new_spanned(args, "#[connector_actions] takes no arguments")
            .to_compile_error()
            .into();
    }
    match expand(&mut item) {
        Ok(tokens) => tokens.into(),
        Err(error) => {
            let error = error.to_compile_error();
            quote!(#item #error).into()
        }
    }
}

/// One parsed action method.
struct Action {
    ident: Ident,
    description: String,
    tags: Vec<Ident>,
    download: bool,
    input: Option<Type>,
    output: Type,
}

fn expand(item: &mut ItemImpl) -> syn::Result<TokenStream2> {
    if let Some((_, path, _)) = &item.trait_ {
        return Err(syn::Error::new_spanned(
            path,
            "#[connector_actions] goes on an inherent impl block, not a trait impl",
        ));
    }
    let mut actions = Vec::new();
    let mut errors: Option<syn::Error> = None;
    for impl_item in &mut item.items {
        let ImplItem::Fn(method) = impl_item else {
            continue;
        };
        let Some(position) = method
            .attrs
            .iter()
            .position(|a| a.path().is_ident("action"))
        else {
            continue;
        };
        let attr = method.attrs.remove(position);
        match parse_action(&attr, method) {
            Ok(action) => actions.push(action),
            Err(error) => match &mut errors {
                Some(all) => all.combine(error),
                None => errors = Some(error),
            },
        }
    }
    if let Some(errors) = errors {
        return Err(errors);
    }
    if actions.is_empty() {
        return Err(syn::Error::new(
            item.self_ty.span(),
            "#[connector_actions] found no method marked #[action(tags(...))]",
        ));
    }
    Ok(generate(item, &actions))
}

fn parse_action(attr: &Attribute, method: &ImplItemFn) -> syn::Result<Action> {
    let ident = method.sig.ident.clone();
    let (tags, download) = parse_action_args(attr, &ident)?;
    let description = doc_comment(&method.attrs).ok_or_else(|| {
        syn::Error::new_spanned(
            &method.sig.ident,
            format!("action `{ident}` needs a doc comment: it becomes the description users and agents see"),
        )
    })?;
    if method.sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            method.sig.fn_token,
            format!("action `{ident}` must be an `async fn`"),
        ));
    }
    let mut inputs = method.sig.inputs.iter();
    if !matches!(inputs.next(), Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none())
    {
        return Err(syn::Error::new_spanned(
            &method.sig,
            format!("action `{ident}` must take `&self` first"),
        ));
    }
    if !matches!(inputs.next(), Some(FnArg::Typed(_))) {
        return Err(syn::Error::new_spanned(
            &method.sig,
            format!("action `{ident}` must take `ctx: &ActionContext` after `&self`"),
        ));
    }
    let input = match inputs.next() {
        Some(FnArg::Typed(arg)) => Some((*arg.ty).clone()),
        Some(FnArg::Receiver(_)) | None => None,
    };
    if let Some(extra) = inputs.next() {
        return Err(syn::Error::new_spanned(
            extra,
            format!(
                "action `{ident}` takes at most one parameters argument (a struct with every field)"
            ),
        ));
    }
    let output = result_ok_type(&method.sig.output).ok_or_else(|| {
        syn::Error::new_spanned(
            &method.sig.output,
            format!("action `{ident}` must return `Result<Output, ConnectorError>`"),
        )
    })?;
    Ok(Action {
        ident,
        description,
        tags,
        download,
        input,
        output,
    })
}

/// Parses `#[action(tags(a, b), download)]`.
fn parse_action_args(attr: &Attribute, ident: &Ident) -> syn::Result<(Vec<Ident>, bool)> {
    let missing_tags = || {
        syn::Error::new_spanned(
            attr,
            format!(
                "action `{ident}` needs tags, e.g. #[action(tags(read))]; valid tags: {}",
                tag_list()
            ),
        )
    };
    let Meta::List(list) = &attr.meta else {
        return Err(missing_tags());
    };
    let metas = list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)?;
    let mut tags = Vec::new();
    let mut download = false;
    for meta in metas {
        match &meta {
            Meta::Path(path) if path.is_ident("download") => download = true,
            Meta::List(inner) if inner.path.is_ident("tags") => {
                let names =
                    inner.parse_args_with(Punctuated::<Ident, Token![,]>::parse_terminated)?;
                for name in names {
                    let Some((_, variant)) = TAGS.iter().find(|(tag, _)| name == tag) else {
                        return Err(syn::Error::new_spanned(
                            &name,
                            format!("unknown tag `{name}`; valid tags: {}", tag_list()),
                        ));
                    };
                    tags.push(Ident::new(variant, name.span()));
                }
            }
            other => {
                return Err(syn::Error::new_spanned(
                    other,
                    "expected `tags(...)` or `download` in #[action(...)]",
                ));
            }
        }
    }
    if tags.is_empty() {
        return Err(missing_tags());
    }
    Ok((tags, download))
}

fn tag_list() -> String {
    TAGS.iter()
        .map(|(tag, _)| *tag)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The doc comment's text: one leading space stripped per line, trimmed; `None` if empty.
fn doc_comment(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .filter_map(|attr| match &attr.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(text),
                    ..
                }) => Some(text.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|line| {
            line.strip_prefix(' ')
                .unwrap_or(&line)
                .trim_end()
                .to_owned()
        })
        .collect();
    let text = lines.join("\n").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// `T` from `-> Result<T, E>` (any path ending in `Result` with a first type argument).
fn result_ok_type(output: &ReturnType) -> Option<Type> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let Type::Path(path) = ty.as_ref() else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args.iter().find_map(|arg| match arg {
        GenericArgument::Type(ty) => Some(ty.clone()),
        _ => None,
    })
}

fn generate(item: &ItemImpl, actions: &[Action]) -> TokenStream2 {
    let krate = quote!(::campuscore_connectors);
    let private = quote!(#krate::__private);
    let self_ty = &item.self_ty;
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let no_input: Type = syn::parse_quote!(#krate::NoInput);

    let descriptors = actions.iter().map(|action| {
        let name = action.ident.to_string();
        let description = &action.description;
        let tags = &action.tags;
        let input = action.input.as_ref().unwrap_or(&no_input);
        let output = &action.output;
        let download = action.download;
        let output_schema = if download {
            quote!(#private::download_schema())
        } else {
            quote!(#private::output_schema::<#output>())
        };
        quote! {
            #krate::ActionDescriptor {
                name: #name,
                description: ::std::string::String::from(#description),
                tags: &[#(#krate::Tag::#tags),*],
                input_schema: #private::input_schema::<#input>(),
                output_schema: #output_schema,
                downloads: #download,
            }
        }
    });

    let arms = actions.iter().map(|action| {
        let name = action.ident.to_string();
        let method = &action.ident;
        let input = action.input.as_ref().unwrap_or(&no_input);
        let parsed = format_ident!("input", span = Span::mixed_site());
        let (pattern, call) = if action.input.is_some() {
            (quote!(#parsed), quote!(self.#method(ctx, #parsed)))
        } else {
            (quote!(_), quote!(self.#method(ctx)))
        };
        let wrap = if action.download {
            quote!(#private::download_output)
        } else {
            quote!(#private::json_output)
        };
        quote! {
            #name => match #private::parse_input::<#input>(params) {
                ::core::result::Result::Ok(#pattern) => #wrap(#call.await),
                ::core::result::Result::Err(error) => ::core::result::Result::Err(error),
            }
        }
    });

    quote! {
        #item

        impl #impl_generics #krate::ActionSet for #self_ty #where_clause {
            fn descriptors() -> ::std::vec::Vec<#krate::ActionDescriptor> {
                ::std::vec![#(#descriptors),*]
            }

            fn invoke<'a>(
                &'a self,
                ctx: &'a #krate::ActionContext,
                name: &'a str,
                params: #private::Value,
            ) -> #private::BoxFuture<'a, ::core::result::Result<#krate::ActionOutput, #krate::ConnectorError>> {
                ::std::boxed::Box::pin(async move {
                    match name {
                        #(#arms,)*
                        _ => ::core::result::Result::Err(#krate::ConnectorError::UnknownAction {
                            name: ::std::string::ToString::to_string(name),
                        }),
                    }
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::*;

    /// Names the type `parse_quote!` must produce.
    fn method(tokens: ImplItemFn) -> ImplItemFn {
        tokens
    }

    #[test]
    fn doc_comments_are_joined_and_trimmed() {
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[doc = " First line."]),
            parse_quote!(#[doc = "  Indented."]),
        ];
        assert_eq!(
            doc_comment(&attrs).as_deref(),
            Some("First line.\n Indented.")
        );
        assert_eq!(doc_comment(&[parse_quote!(#[doc = "   "])]), None);
    }

    #[test]
    fn result_ok_type_accepts_qualified_results_only() {
        let ok: ReturnType = parse_quote!(-> std::result::Result<Vec<u8>, ConnectorError>);
        assert!(result_ok_type(&ok).is_some());
        let not_result: ReturnType = parse_quote!(-> Option<u8>);
        assert!(result_ok_type(&not_result).is_none());
        assert!(result_ok_type(&ReturnType::Default).is_none());
    }

    #[test]
    fn actions_parse_tags_download_and_an_optional_input() {
        let m = method(parse_quote! {
            /// Fetch a file.
            async fn fetch(&self, ctx: &ActionContext, params: FetchInput) -> Result<Download, ConnectorError> {}
        });
        let attr: Attribute = parse_quote!(#[action(tags(file_download, read), download)]);
        let action = parse_action(&attr, &m).expect("valid action");
        assert_eq!(action.description, "Fetch a file.");
        assert_eq!(
            action
                .tags
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["FileDownload", "Read"]
        );
        assert!(action.download && action.input.is_some());

        let m = method(parse_quote! {
            /// Ping.
            async fn ping(&self, ctx: &ActionContext) -> Result<(), ConnectorError> {}
        });
        let action = parse_action(&parse_quote!(#[action(tags(read))]), &m).expect("valid action");
        assert!(action.input.is_none() && !action.download);
    }

    #[test]
    fn actions_with_extra_arguments_or_mutable_self_are_refused() {
        let attr: Attribute = parse_quote!(#[action(tags(read))]);
        let extra = method(parse_quote! {
            /// Two inputs.
            async fn two(&self, ctx: &ActionContext, a: A, b: B) -> Result<(), ConnectorError> {}
        });
        assert!(parse_action(&attr, &extra).is_err());
        let mutable = method(parse_quote! {
            /// Mutates.
            async fn change(&mut self, ctx: &ActionContext) -> Result<(), ConnectorError> {}
        });
        assert!(parse_action(&attr, &mutable).is_err());
    }
}
