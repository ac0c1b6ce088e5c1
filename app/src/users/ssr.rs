//! Local users: creation, lookup, login check, and the first admin.

use rand::{Rng, distributions::Alphanumeric};
use sqlx::SqlitePool;

use super::passwords;
use crate::state::now;
use crate::{
    access::Role,
    access::Scope,
    error::{AppError, AppResult},
    users::UserInfo,
};

/// A user row as the server needs it.
#[derive(Debug, Clone)]
pub struct User {
    /// Database id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
}

/// Checks a user name before it is stored.
pub fn validate_username(name: &str) -> AppResult<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "._-@".contains(c);
    if name.is_empty() || name.len() > 64 || !name.chars().all(ok_char) {
        return Err(AppError::InvalidInput(
            "User names are 1 to 64 characters: letters, digits, '.', '_', '-', '@'.".into(),
        ));
    }
    Ok(())
}

/// Checks a new password before it is hashed.
pub fn validate_password(password: &str) -> AppResult<()> {
    if password.chars().count() < 8 || password.len() > 1024 {
        return Err(AppError::InvalidInput(
            "Passwords are 8 to 1024 characters.".into(),
        ));
    }
    Ok(())
}

/// Creates a user who sees everything; refuses a name that is taken.
pub async fn create(db: &SqlitePool, username: &str, password: &str, role: Role) -> AppResult<()> {
    create_scoped(db, username, password, role, &Scope::everything()).await
}

/// Creates a user with a scope; refuses a name that is taken.
pub async fn create_scoped(
    db: &SqlitePool,
    username: &str,
    password: &str,
    role: Role,
    scope: &Scope,
) -> AppResult<()> {
    validate_username(username)?;
    validate_password(password)?;
    let phc = passwords::hash(password.to_owned()).await.map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        AppError::Internal
    })?;
    let inserted = sqlx::query(
        "INSERT INTO users (username, password_hash, role, scope_tags, created_at) \
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (username) DO NOTHING",
    )
    .bind(username)
    .bind(phc)
    .bind(role.as_str())
    .bind(scope.to_db())
    .bind(now())
    .execute(db)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(AppError::InvalidInput(format!(
            "A user named {username:?} already exists."
        )));
    }
    Ok(())
}

/// Returns the user when `password` is right; `None` for an unknown user or a wrong password,
/// taking the same time for both.
pub async fn check_login(
    db: &SqlitePool,
    username: &str,
    password: &str,
) -> AppResult<Option<User>> {
    let row: Option<(i64, String, String, String)> =
        sqlx::query_as("SELECT id, username, role, password_hash FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(db)
            .await?;
    let phc = row
        .as_ref()
        .map_or_else(|| passwords::dummy_hash().to_owned(), |r| r.3.clone());
    let matches = passwords::verify(password.to_owned(), phc).await;
    Ok(match row {
        Some((id, username, role, _)) if matches => Some(User {
            id,
            username,
            role: parse_role(&role)?,
        }),
        _ => None,
    })
}

/// Every user, by name.
pub async fn list(db: &SqlitePool) -> AppResult<Vec<UserInfo>> {
    let rows: Vec<(String, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT username, role, scope_tags, created_at FROM users ORDER BY username",
    )
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|(username, role, scope, created_at)| {
            Ok(UserInfo {
                username,
                role: parse_role(&role)?,
                scope: Scope::from_db(scope.as_deref()),
                created_at,
            })
        })
        .collect()
}

/// SQL condition on a `users` row: changing it away from "unscoped admin" still leaves one.
/// Checked inside the same statement as the change, so two admins acting at once cannot both
/// pass it.
const KEEPS_AN_UNSCOPED_ADMIN: &str = "(users.role != 'admin' OR users.scope_tags IS NOT NULL \
     OR EXISTS (SELECT 1 FROM users o WHERE o.role = 'admin' AND o.scope_tags IS NULL \
     AND o.username != users.username))";

/// The answer when a change was refused: the user is unknown, or is the last unscoped admin.
async fn refused(db: &SqlitePool, username: &str) -> AppError {
    let exists = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users WHERE username = ?")
        .bind(username)
        .fetch_one(db)
        .await;
    match exists {
        Ok(0) => AppError::NotFound(format!("user {username:?}")),
        Ok(_) => AppError::InvalidInput(format!(
            "{username} is the last admin who sees every VM and node; there must always be one. \
             Give another admin an unrestricted scope first."
        )),
        Err(e) => e.into(),
    }
}

/// Deletes a user (their sessions go with them); never the last unscoped admin.
pub async fn delete(db: &SqlitePool, username: &str) -> AppResult<()> {
    let done = sqlx::query(&format!(
        "DELETE FROM users WHERE username = ? AND {KEEPS_AN_UNSCOPED_ADMIN}"
    ))
    .bind(username)
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(refused(db, username).await);
    }
    Ok(())
}

/// Changes a user's role; the last unscoped admin stays an admin.
pub async fn set_role(db: &SqlitePool, username: &str, role: Role) -> AppResult<()> {
    let done = sqlx::query(&format!(
        "UPDATE users SET role = ? WHERE username = ? AND (? = 'admin' OR {KEEPS_AN_UNSCOPED_ADMIN})"
    ))
    .bind(role.as_str())
    .bind(username)
    .bind(role.as_str())
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(refused(db, username).await);
    }
    Ok(())
}

/// Changes which VMs a user may see; the last unscoped admin keeps seeing everything.
pub async fn set_scope(db: &SqlitePool, username: &str, scope: &Scope) -> AppResult<()> {
    let stored = scope.to_db();
    let done = sqlx::query(&format!(
        "UPDATE users SET scope_tags = ? WHERE username = ? AND (? IS NULL OR {KEEPS_AN_UNSCOPED_ADMIN})"
    ))
    .bind(&stored)
    .bind(username)
    .bind(&stored)
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(refused(db, username).await);
    }
    Ok(())
}

/// A user's scope; an unknown user is not found.
pub async fn scope_of(db: &SqlitePool, username: &str) -> AppResult<Scope> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT scope_tags FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(db)
            .await?;
    let (stored,) = row.ok_or_else(|| AppError::NotFound(format!("user {username:?}")))?;
    Ok(Scope::from_db(stored.as_deref()))
}

/// Number of admins, so the last one cannot be removed.
pub async fn admin_count(db: &SqlitePool) -> AppResult<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE role = 'admin'")
        .fetch_one(db)
        .await?;
    Ok(n)
}

/// On first start (no users at all) creates `admin` with `password` or a random one.
/// Returns the password when it was generated, so the caller prints it once.
pub async fn ensure_first_admin(
    db: &SqlitePool,
    password: Option<&str>,
) -> AppResult<Option<String>> {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(db)
        .await?;
    if count > 0 {
        return Ok(None);
    }
    let (password, generated) = match password {
        Some(p) => (p.to_owned(), false),
        None => (random_password(), true),
    };
    create(db, "admin", &password, Role::Admin).await?;
    Ok(generated.then_some(password))
}

/// 20 random alphanumeric characters.
pub fn random_password() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}

fn parse_role(role: &str) -> AppResult<Role> {
    role.parse().map_err(|e: String| {
        tracing::error!(error = %e, "bad role in database");
        AppError::Internal
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::db;

    #[tokio::test]
    async fn first_admin_is_created_once() {
        let pool = db::temp().await;
        let generated = ensure_first_admin(&pool, None)
            .await
            .unwrap()
            .expect("a generated password");
        assert_eq!(generated.len(), 20);
        assert!(
            ensure_first_admin(&pool, None).await.unwrap().is_none(),
            "only on an empty database"
        );
        let admin = check_login(&pool, "admin", &generated)
            .await
            .unwrap()
            .expect("admin can log in");
        assert_eq!(admin.role, Role::Admin);
    }

    #[tokio::test]
    async fn login_checks_the_password_and_names_are_unique() {
        let pool = db::temp().await;
        create(&pool, "olga", "operator-pw", Role::Operator)
            .await
            .unwrap();
        assert!(
            check_login(&pool, "olga", "operator-pw")
                .await
                .unwrap()
                .is_some()
        );
        assert!(check_login(&pool, "olga", "wrong").await.unwrap().is_none());
        assert!(
            check_login(&pool, "nobody", "operator-pw")
                .await
                .unwrap()
                .is_none()
        );
        let again = create(&pool, "olga", "another-pw", Role::Viewer)
            .await
            .unwrap_err();
        assert!(matches!(again, AppError::InvalidInput(ref m) if m.contains("already exists")));
        assert!(matches!(
            create(&pool, "bad name", "12345678", Role::Viewer).await,
            Err(AppError::InvalidInput(_))
        ));
        assert!(matches!(
            create(&pool, "shorty", "1234", Role::Viewer).await,
            Err(AppError::InvalidInput(_))
        ));
    }

    #[tokio::test]
    async fn roles_change_and_users_go() {
        let pool = db::temp().await;
        create(&pool, "vic", "viewer-pw", Role::Viewer)
            .await
            .unwrap();
        set_role(&pool, "vic", Role::Operator).await.unwrap();
        assert_eq!(list(&pool).await.unwrap()[0].role, Role::Operator);
        delete(&pool, "vic").await.unwrap();
        assert!(list(&pool).await.unwrap().is_empty());
        assert!(matches!(
            delete(&pool, "vic").await,
            Err(AppError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn scopes_are_stored_and_one_unscoped_admin_always_remains() {
        let pool = db::temp().await;
        create(&pool, "root", "admin-pass", Role::Admin)
            .await
            .unwrap();
        let tenant = Scope::parse("prod, web").unwrap();
        create_scoped(&pool, "ten", "tenant-pass", Role::Viewer, &tenant)
            .await
            .unwrap();
        assert_eq!(scope_of(&pool, "ten").await.unwrap(), tenant);
        assert!(scope_of(&pool, "root").await.unwrap().is_everything());
        assert!(matches!(
            scope_of(&pool, "ghost").await,
            Err(AppError::NotFound(_))
        ));

        // The only admin who sees everything can be neither scoped, demoted nor deleted.
        let last = |r: AppResult<()>| matches!(r, Err(AppError::InvalidInput(ref m)) if m.contains("last admin"));
        assert!(last(set_scope(&pool, "root", &tenant).await));
        assert!(last(set_role(&pool, "root", Role::Viewer).await));
        assert!(last(delete(&pool, "root").await));
        assert!(
            scope_of(&pool, "root").await.unwrap().is_everything(),
            "nothing changed"
        );
        set_scope(&pool, "root", &Scope::everything())
            .await
            .unwrap();
        set_role(&pool, "root", Role::Admin).await.unwrap();

        // With a second unscoped admin, the first may be scoped; then the second is the last.
        create(&pool, "boss", "admin-pass", Role::Admin)
            .await
            .unwrap();
        set_scope(&pool, "root", &tenant).await.unwrap();
        assert_eq!(scope_of(&pool, "root").await.unwrap(), tenant);
        assert!(last(set_scope(&pool, "boss", &tenant).await));
        set_role(&pool, "root", Role::Operator).await.unwrap();
        delete(&pool, "root").await.unwrap();
        assert!(last(delete(&pool, "boss").await));

        // Scoping viewers is never limited; unknown users are not found.
        set_scope(&pool, "ten", &Scope::everything()).await.unwrap();
        assert!(matches!(
            set_scope(&pool, "ghost", &tenant).await,
            Err(AppError::NotFound(_))
        ));
        let listed = list(&pool).await.unwrap();
        assert!(listed.iter().all(|u| u.scope.is_everything()));
    }
}
