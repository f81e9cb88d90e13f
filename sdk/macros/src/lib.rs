//! The `#[plugin]` attribute of `switchboard-sdk` (use it as
//! `#[switchboard_sdk::plugin]`; this crate is not meant to be named
//! directly).
//!
//! A plugin's hook list used to be written by hand beside its hooks, and a
//! hook implemented but missing from the list was never called, without a
//! word. The attribute reads the list from the `on_*` methods the
//! `impl Plugin` block defines instead, so the two cannot disagree.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::{ImplItem, Item, ItemImpl};

/// Every hook of the contract the SDK binds (`switchboard:connector@0.2.0`),
/// in the contract's order: the `Plugin` method that implements it and its
/// case of the SDK's `Hook` enum.
const HOOKS: &[(&str, &str)] = &[
    ("on_conversation_start", "ConversationStart"),
    ("on_step_up", "StepUp"),
    ("on_consumer_message", "ConsumerMessage"),
    ("on_bot_message", "BotMessage"),
    ("on_bot_error", "BotError"),
    ("on_conversation_end", "ConversationEnd"),
];

/// Makes an `impl Plugin for YourType` block the component's plugin:
///
/// - it writes `Plugin::HOOKS` from the hook methods (`on_*`) the block
///   defines, so the host calls exactly the hooks the plugin implements;
/// - it exports the type as the component's `hooks` when built for
///   WebAssembly (a native build, for unit tests or a benchmark linking
///   several plugins, exports nothing).
///
/// ```ignore
/// use switchboard_sdk::{ConsumerAction, Conversation, Plugin};
///
/// struct Shout;
///
/// #[switchboard_sdk::plugin]
/// impl Plugin for Shout {
///     fn on_consumer_message(_conv: &Conversation, text: String) -> ConsumerAction {
///         ConsumerAction::Rewrite(text.to_uppercase())
///     }
/// }
/// // Shout's HOOKS list Hook::ConsumerMessage alone.
/// ```
///
/// A method named `on_*` that is not a hook is an error naming the hooks;
/// so is a `HOOKS` written in the block. One plugin per crate: a component
/// exports one `hooks`.
#[proc_macro_attribute]
pub fn plugin(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// The attribute's work on `proc_macro2` tokens, so it can be tested outside
/// a compiler.
fn expand(args: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    if !args.is_empty() {
        return Err(syn::Error::new_spanned(
            args,
            "#[switchboard_sdk::plugin] takes no arguments: the hooks are read from the \
             impl block's `on_*` methods",
        ));
    }
    let mut block = plugin_impl(syn::parse2(item)?)?;
    let variants = implemented(&block)?
        .into_iter()
        .map(|variant| format_ident!("{variant}"));
    let hooks: ImplItem = syn::parse_quote! {
        const HOOKS: ::switchboard_sdk::ImplementedHooks =
            ::switchboard_sdk::__private::implemented_hooks(&[
                #(::switchboard_sdk::Hook::#variants),*
            ]);
    };
    block.items.insert(0, hooks);
    let self_ty = &block.self_ty;
    Ok(quote! {
        #block
        ::switchboard_sdk::__export_plugin!(#self_ty);
    })
}

/// The item as an `impl Plugin for Type` block without generics, or an
/// error saying what the attribute goes on.
fn plugin_impl(item: Item) -> syn::Result<ItemImpl> {
    let Item::Impl(block) = item else {
        return Err(syn::Error::new(
            Span::call_site(),
            "#[switchboard_sdk::plugin] goes on the `impl Plugin for YourType { .. }` block",
        ));
    };
    let names_plugin = block
        .trait_
        .as_ref()
        .and_then(|(path, _)| path.segments.last())
        .is_some_and(|last| last.ident == "Plugin");
    if !names_plugin {
        return Err(syn::Error::new_spanned(
            &block.self_ty,
            "#[switchboard_sdk::plugin] goes on an `impl Plugin for YourType { .. }` block, \
             not on an inherent impl or another trait's",
        ));
    }
    if !block.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &block.generics,
            "a plugin is exported as a component, which needs one concrete type: \
             remove the impl's generic parameters",
        ));
    }
    Ok(block)
}

/// The `Hook` cases of the hooks the block defines, in the contract's
/// order; every `on_*` method must be a hook and `HOOKS` must be left out.
fn implemented(block: &ItemImpl) -> syn::Result<Vec<&'static str>> {
    let mut defined = Vec::new();
    let mut errors: Option<syn::Error> = None;
    let mut refuse = |error: syn::Error| match &mut errors {
        Some(first) => first.combine(error),
        None => errors = Some(error),
    };
    for item in &block.items {
        match item {
            ImplItem::Fn(method) => {
                let name = method.sig.ident.to_string();
                if !name.starts_with("on_") {
                    // Not meant as a hook; the compiler judges it against the trait.
                    continue;
                }
                match HOOKS.iter().find(|(method, _)| *method == name) {
                    Some((method, _)) => defined.push(*method),
                    None => refuse(syn::Error::new_spanned(
                        &method.sig.ident,
                        unknown_hook(&name),
                    )),
                }
            }
            ImplItem::Const(constant) if constant.ident == "HOOKS" => {
                refuse(syn::Error::new_spanned(
                    &constant.ident,
                    "HOOKS is written by #[switchboard_sdk::plugin] from the hook methods \
                     this block defines; remove it",
                ))
            }
            _ => {}
        }
    }
    if let Some(errors) = errors {
        return Err(errors);
    }
    Ok(HOOKS
        .iter()
        .filter(|(method, _)| defined.contains(method))
        .map(|(_, variant)| *variant)
        .collect())
}

/// The message for an `on_*` method that is no hook: the hooks there are,
/// and the nearest one when it is a likely typo.
fn unknown_hook(name: &str) -> String {
    let known: Vec<&str> = HOOKS.iter().map(|(method, _)| *method).collect();
    let nearest = known
        .iter()
        .map(|hook| (edit_distance(name, hook), *hook))
        .min()
        .filter(|(distance, _)| *distance <= 3);
    let hint = match nearest {
        Some((_, hook)) => format!(" (did you mean `{hook}`?)"),
        None => String::new(),
    };
    format!(
        "`{name}` is not a switchboard hook{hint}; the hooks are {}",
        known.join(", ")
    )
}

/// Levenshtein distance between two names, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expanded(item: TokenStream2) -> String {
        expand(TokenStream2::new(), item).unwrap().to_string()
    }

    fn refusal(args: TokenStream2, item: TokenStream2) -> String {
        expand(args, item).unwrap_err().to_string()
    }

    #[test]
    fn hooks_are_listed_in_the_contract_s_order_whatever_the_block_s() {
        let out = expanded(quote! {
            impl Plugin for Both {
                fn on_bot_message(c: &Conversation, m: Vec<Message>) -> Vec<Message> { m }
                fn helper() {}
                fn on_conversation_start(c: &Conversation, g: String) -> Option<String> { None }
            }
        });
        let list = quote! {
            & [::switchboard_sdk::Hook::ConversationStart, ::switchboard_sdk::Hook::BotMessage]
        };
        assert!(out.contains(&list.to_string()), "{out}");
        assert!(
            out.contains(&quote! { ::switchboard_sdk::__export_plugin!(Both); }.to_string()),
            "{out}"
        );
    }

    #[test]
    fn a_block_without_hooks_lists_none() {
        let out = expanded(quote! { impl switchboard_sdk::Plugin for Nothing {} });
        let list = quote! { ::switchboard_sdk::__private::implemented_hooks(&[]) };
        assert!(out.contains(&list.to_string()), "{out}");
    }

    #[test]
    fn every_hook_of_the_contract_is_known() {
        let out = expanded(quote! {
            impl Plugin for All {
                fn on_conversation_start() {}
                fn on_step_up() {}
                fn on_consumer_message() {}
                fn on_bot_message() {}
                fn on_bot_error() {}
                fn on_conversation_end() {}
            }
        });
        for (_, variant) in HOOKS {
            assert!(
                out.contains(&format!("Hook :: {variant}")),
                "{variant}: {out}"
            );
        }
    }

    #[test]
    fn an_unknown_hook_is_refused_with_the_known_ones_and_the_nearest() {
        let message = refusal(
            TokenStream2::new(),
            quote! { impl Plugin for Typo { fn on_consumer_mesage() {} } },
        );
        assert!(
            message.starts_with("`on_consumer_mesage` is not a switchboard hook"),
            "{message}"
        );
        assert!(
            message.contains("did you mean `on_consumer_message`?"),
            "{message}"
        );
        for (method, _) in HOOKS {
            assert!(message.contains(method), "{method}: {message}");
        }
        let far = refusal(
            TokenStream2::new(),
            quote! { impl Plugin for Far { fn on_everything() {} } },
        );
        assert!(!far.contains("did you mean"), "{far}");
    }

    #[test]
    fn a_hand_written_list_is_refused() {
        let message = refusal(
            TokenStream2::new(),
            quote! { impl Plugin for Handmade { const HOOKS: ImplementedHooks = x; } },
        );
        assert!(message.contains("remove it"), "{message}");
    }

    #[test]
    fn the_attribute_goes_on_a_plain_impl_of_plugin_alone() {
        let inherent = refusal(TokenStream2::new(), quote! { impl Shout {} });
        assert!(inherent.contains("not on an inherent impl"), "{inherent}");
        let other = refusal(TokenStream2::new(), quote! { impl Clone for Shout {} });
        assert!(other.contains("another trait"), "{other}");
        let not_impl = refusal(TokenStream2::new(), quote! { struct Shout; });
        assert!(not_impl.contains("goes on the `impl Plugin"), "{not_impl}");
        let generic = refusal(
            TokenStream2::new(),
            quote! { impl<T> Plugin for Shout<T> {} },
        );
        assert!(generic.contains("one concrete type"), "{generic}");
        let args = refusal(quote! { hooks = 2 }, quote! { impl Plugin for Shout {} });
        assert!(args.contains("takes no arguments"), "{args}");
    }

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("on_step_up", "on_step_up"), 0);
        assert_eq!(edit_distance("on_stepup", "on_step_up"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
