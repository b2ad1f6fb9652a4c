-- pragma sortresult async_timeout=60
-- withQserv SELECT '{{x}}', a FROM {DBTAG_A}t WHERE b IN (SELECT b FROM u ORDER BY b) ORDER BY a
SELECT '{{x}}', a FROM {DBTAG_A}t ORDER /* c */ BY a -- noQserv
