//! Local users: creation, lookup, login check, and the first admin.

use rand::{Rng, distributions::Alphanumeric};
use sqlx::SqlitePool;

use super::{now, passwords};
use crate::{
    error::{AppError, AppResult},
    model::{Role, UserInfo},
    scope::Scope,
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

/// Creates a user; refuses a name that is taken.
pub async fn create(db: &SqlitePool, username: &str, password: &str, role: Role) -> AppResult<()> {
    validate_username(username)?;
    validate_password(password)?;
    let phc = passwords::hash(password.to_owned()).await.map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        AppError::Internal
    })?;
    let inserted = sqlx::query(
        "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (username) DO NOTHING",
    )
    .bind(username)
    .bind(phc)
    .bind(role.as_str())
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

/// Deletes a user (their sessions go with them).
pub async fn delete(db: &SqlitePool, username: &str) -> AppResult<()> {
    let done = sqlx::query("DELETE FROM users WHERE username = ?")
        .bind(username)
        .execute(db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound(format!("user {username:?}")));
    }
    Ok(())
}

/// Changes a user's role.
pub async fn set_role(db: &SqlitePool, username: &str, role: Role) -> AppResult<()> {
    let done = sqlx::query("UPDATE users SET role = ? WHERE username = ?")
        .bind(role.as_str())
        .bind(username)
        .execute(db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound(format!("user {username:?}")));
    }
    Ok(())
}

/// Changes which VMs a user may see.
pub async fn set_scope(db: &SqlitePool, username: &str, scope: &Scope) -> AppResult<()> {
    let done = sqlx::query("UPDATE users SET scope_tags = ? WHERE username = ?")
        .bind(scope.to_db())
        .bind(username)
        .execute(db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound(format!("user {username:?}")));
    }
    Ok(())
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
    use crate::ssr::db;

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
}
