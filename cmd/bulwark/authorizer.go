package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/bulwark-kafka/bulwark/acl"
	"github.com/bulwark-kafka/bulwark/acl/iampolicy"
	"github.com/bulwark-kafka/bulwark/acl/opa"
	"github.com/bulwark-kafka/bulwark/auth/authz"
	"github.com/bulwark-kafka/bulwark/broker/config"
)

// engine is an authorizer with resources to release (an OPA policy watcher, an HTTP client),
// and the topic policy when one is enabled.
type engine struct {
	authz.Authorizer
	topicPolicy authz.TopicPolicy
	close       func()
	// opa is the OPA engine when authorizer.class.name names it (its cache and error counts
	// are exported as metrics).
	opa *opa.Engine
}

// newAuthorizer builds what authorizer.class.name, super.users and
// bulwark.authorizer.iam.enabled ask for; nil when no authorizer is configured.
func newAuthorizer(cfg *config.Config, logger *slog.Logger) (*engine, error) {
	var base authz.Authorizer
	var opaEngine *opa.Engine
	closeFn := func() {}
	switch cfg.AuthorizerEngine() {
	case "":
		return nil, nil
	case "acl":
		base = acl.New(cfg.AllowEveryoneIfNoACLFound)
	case "opa":
		opts := opa.Options{Query: cfg.OPAQuery, CacheMax: cfg.OPACacheMax, CacheTTL: time.Duration(cfg.OPACacheExpireSeconds) * time.Second,
			Timeout: cfg.OPATimeout, AllowOnError: cfg.OPAAllowOnError, ReloadCheck: cfg.OPAReloadCheck, Logger: logger.With("component", "opa")}
		if cfg.OPATopicPolicy {
			opts.TopicQuery = cfg.OPATopicPolicyQuery
		}
		var err error
		if cfg.OPAPolicyDir != "" {
			opaEngine, err = opa.NewEmbedded(cfg.OPAPolicyDir, opts)
		} else {
			opaEngine, err = opa.NewRemote(cfg.OPAURL, opts)
		}
		if err != nil {
			return nil, err
		}
		base, closeFn = opaEngine, opaEngine.Close
	default:
		return nil, fmt.Errorf("authorizer.class.name=%s: engine %q is not built in", cfg.AuthorizerClassName, cfg.AuthorizerEngine())
	}
	if cfg.IAMAuthorizerEnabled {
		iam := iampolicy.New(iampolicy.Options{Region: cfg.IAMRegion, Account: cfg.IAMAccountID, ClusterName: cfg.ClusterName})
		base = &authz.ByMechanism{IAM: iam, Default: base, Mechanisms: authz.IAMMechanisms}
	}
	logger.Info("authorization", "authorizer", cfg.AuthorizerClassName, "super_users", cfg.SuperUsers,
		"allow_everyone_if_no_acl_found", cfg.AllowEveryoneIfNoACLFound, "iam_policies", cfg.IAMAuthorizerEnabled)
	out := &engine{Authorizer: authz.NewSuperUsers(cfg.SuperUsers, base), close: closeFn, opa: opaEngine}
	if cfg.OPATopicPolicy {
		out.topicPolicy = opaEngine
	}
	return out, nil
}
