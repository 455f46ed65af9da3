//! The compiled routes of one group in one environment: per request method, one tier per match
//! class, tried in DESIGN.md's class order.
//!
//! Methods: each class is tried first in the request method's own tier, then in the ANY tier,
//! so a method-specific API beats an ANY API with the same pattern, and the class order still
//! comes first (an ANY exact API beats a GET prefix API). matchit cannot resume a search in a
//! shared tree when the best node lacks the method, which is why methods get separate tiers
//! rather than one tree with per-method values. A HEAD request tries HEAD, then ANY, then GET
//! APIs, class by class: HEAD is GET without a body, as most gateways serve it, while an
//! explicit HEAD or ANY API is preferred over the implicit fallback.

use foldhash::HashMap;
use std::collections::hash_map::Entry;

use pylon_model::{Method, PathPattern};

use crate::error::AddError;
use crate::lookup::RouteMatch;
use crate::params::ParamsTier;
use crate::prefix::PrefixTier;
use crate::regexes::{RegexBuilder, RegexRoute, RegexTier};

const SLOTS: usize = 8;
const ANY: usize = 7;

fn slot(method: Method) -> usize {
    match method {
        Method::Get => 0,
        Method::Post => 1,
        Method::Put => 2,
        Method::Delete => 3,
        Method::Patch => 4,
        Method::Head => 5,
        Method::Options => 6,
        Method::Any => ANY,
    }
}

/// The tiers a request of `method` may use, most specific first.
fn slots_for(method: Method) -> &'static [usize] {
    match method {
        Method::Get => &[0, ANY],
        Method::Post => &[1, ANY],
        Method::Put => &[2, ANY],
        Method::Delete => &[3, ANY],
        Method::Patch => &[4, ANY],
        Method::Head => &[5, ANY, 0],
        Method::Options => &[6, ANY],
        Method::Any => &[ANY],
    }
}

/// One method's routes, by class.
#[derive(Debug, Default)]
struct Tiers {
    exact: HashMap<Box<str>, usize>,
    prefix: PrefixTier,
    params: ParamsTier,
    plain: PrefixTier,
    regex: Option<RegexTier>,
}

#[derive(Debug, Default)]
struct TiersBuilder {
    tiers: Tiers,
    regex: RegexBuilder,
}

/// Collects one group+environment's deployments; [`TableBuilder::build`] compiles them.
#[derive(Debug, Default)]
pub(crate) struct TableBuilder {
    slots: [Option<Box<TiersBuilder>>; SLOTS],
}

impl TableBuilder {
    pub(crate) fn add(
        &mut self,
        method: Method,
        pattern: PathPattern,
        deployment: usize,
        regex_priority: i32,
        created_at: i64,
    ) -> Result<(), AddError> {
        let b = self.slots[slot(method)].get_or_insert_with(Box::default);
        let same = |what: &str, path: &str| format!("same {what} `{path}`");
        let added = match pattern {
            PathPattern::Exact(path) => match b.tiers.exact.entry(path.into_boxed_str()) {
                Entry::Occupied(e) => Err(AddError::Clash {
                    existing: *e.get(),
                    reason: same("exact path", &format!("={}", e.key())),
                }),
                Entry::Vacant(e) => {
                    e.insert(deployment);
                    Ok(())
                }
            },
            PathPattern::Prefix(path) => {
                b.tiers
                    .prefix
                    .insert(&path, deployment)
                    .map_err(|existing| AddError::Clash {
                        existing,
                        reason: same("prefix path", &format!("^~{path}")),
                    })
            }
            PathPattern::Plain(path) => {
                b.tiers
                    .plain
                    .insert(&path, deployment)
                    .map_err(|existing| AddError::Clash {
                        existing,
                        reason: same("path", &path),
                    })
            }
            PathPattern::Params(path) => b.tiers.params.insert(&path, deployment),
            PathPattern::Regex(pattern) => b.regex.insert(RegexRoute {
                priority: regex_priority,
                created_at,
                deployment,
                pattern,
            }),
        };
        added.map_err(|e| match e {
            AddError::Clash { existing, reason } => AddError::Clash {
                existing,
                reason: format!("both are {} APIs with the {reason}", method.as_str()),
            },
            invalid => invalid,
        })
    }

    /// Compiles the regular-expression sets; an error is the regex engine's message.
    pub(crate) fn build(self) -> Result<Table, String> {
        let mut slots: [Option<Box<Tiers>>; SLOTS] = Default::default();
        for (out, b) in slots.iter_mut().zip(self.slots) {
            let Some(b) = b else { continue };
            let TiersBuilder { mut tiers, regex } = *b;
            if !regex.is_empty() {
                tiers.regex = Some(regex.build()?);
            }
            tiers.params.finish();
            *out = Some(Box::new(tiers));
        }
        Ok(Table { slots })
    }
}

/// The compiled routes of one group in one environment.
#[derive(Debug, Default)]
pub(crate) struct Table {
    slots: [Option<Box<Tiers>>; SLOTS],
}

impl Table {
    pub(crate) fn find<'r, 'p>(
        &'r self,
        method: Method,
        path: &'p str,
    ) -> Option<RouteMatch<'r, 'p>> {
        let order = slots_for(method);
        let tiers = || order.iter().filter_map(|&s| self.slots[s].as_deref());
        let bare = |deployment, rest| RouteMatch {
            deployment,
            params: Vec::new(),
            rest,
        };
        for t in tiers() {
            if !t.exact.is_empty()
                && let Some(&d) = t.exact.get(path)
            {
                return Some(bare(d, ""));
            }
        }
        for t in tiers() {
            if let Some((d, rest)) = t.prefix.longest(path) {
                return Some(bare(d, rest));
            }
        }
        for t in tiers() {
            if !t.params.is_empty()
                && let Some((deployment, params)) = t.params.find(path)
            {
                return Some(RouteMatch {
                    deployment,
                    params,
                    rest: "",
                });
            }
        }
        for t in tiers() {
            if let Some((d, rest)) = t.plain.longest(path) {
                return Some(bare(d, rest));
            }
        }
        for t in tiers() {
            if let Some((deployment, params)) = t.regex.as_ref().and_then(|r| r.find(path)) {
                return Some(RouteMatch {
                    deployment,
                    params,
                    rest: "",
                });
            }
        }
        None
    }
}
