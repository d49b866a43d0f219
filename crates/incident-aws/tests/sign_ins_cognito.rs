//! The console's user pool adapter against aws-smithy-mocks: the subject is looked up exactly, a
//! disabled user is nobody, and a subject that is not a plausible id is never put into a filter.

use aws_sdk_cognitoidentityprovider::operation::admin_list_groups_for_user::{
    AdminListGroupsForUserInput, AdminListGroupsForUserOutput,
};
use aws_sdk_cognitoidentityprovider::operation::list_users::{ListUsersInput, ListUsersOutput};
use aws_sdk_cognitoidentityprovider::types::{GroupType, UserType};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use incident_aws::sign_ins::CognitoSignIns;
use incident_core::console::SignedIn;
use incident_core::ports::SignIns;

const POOL: &str = "us-east-1_Console";
const SUB: &str = "c28599c8-3297-4656-ab47-d92d9ec5f6ac";

fn user(enabled: bool) -> ListUsersOutput {
    ListUsersOutput::builder()
        .users(UserType::builder().username("ana").enabled(enabled).build())
        .build()
}

#[tokio::test]
async fn a_subject_is_the_pool_user_with_that_sub_and_their_groups() {
    let list = mock!(aws_sdk_cognitoidentityprovider::Client::list_users)
        .match_requests(|r: &ListUsersInput| {
            r.user_pool_id() == Some(POOL) && r.filter() == Some(&format!("sub = \"{SUB}\"")) && r.limit() == Some(1)
        })
        .then_output(|| user(true));
    let groups = mock!(aws_sdk_cognitoidentityprovider::Client::admin_list_groups_for_user)
        .match_requests(|r: &AdminListGroupsForUserInput| r.username() == Some("ana") && r.user_pool_id() == Some(POOL))
        .then_output(|| {
            AdminListGroupsForUserOutput::builder()
                .groups(GroupType::builder().group_name("responders").build())
                .build()
        });
    let pool = CognitoSignIns::new(
        mock_client!(aws_sdk_cognitoidentityprovider, RuleMode::MatchAny, [&list, &groups]),
        "us-east-1",
        POOL.into(),
        "us-east-1:identities".into(),
    );
    assert_eq!(pool.provider(), "cognito-idp.us-east-1.amazonaws.com/us-east-1_Console");
    let signed_in = pool.signed_in(SUB).await.unwrap();
    assert_eq!(
        signed_in,
        Some(SignedIn {
            username: "ana".into(),
            groups: vec!["responders".into()]
        })
    );
}

#[tokio::test]
async fn a_disabled_user_and_an_implausible_subject_are_nobody() {
    let list = mock!(aws_sdk_cognitoidentityprovider::Client::list_users).then_output(|| user(false));
    let pool = CognitoSignIns::new(
        mock_client!(aws_sdk_cognitoidentityprovider, RuleMode::MatchAny, [&list]),
        "us-east-1",
        POOL.into(),
        "us-east-1:identities".into(),
    );
    assert_eq!(pool.signed_in(SUB).await.unwrap(), None);
    assert_eq!(list.num_calls(), 1);
    assert_eq!(pool.signed_in("x\" or username ^= \"").await.unwrap(), None);
    assert_eq!(list.num_calls(), 1, "never put into a filter");
}
